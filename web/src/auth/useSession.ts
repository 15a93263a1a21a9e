import { useSyncExternalStore } from "react";
import { sessionStatus, subscribeSession, type SessionStatus } from "./session";

export function useSessionStatus(): SessionStatus {
  return useSyncExternalStore(subscribeSession, sessionStatus, sessionStatus);
}
