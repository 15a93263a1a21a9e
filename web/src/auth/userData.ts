/**
 * What one person leaves in a tab (uploads on their way, drafts in localStorage, the
 * GraphQL cache) must never be shown to the next person who signs in on it.
 */
import { endSession, onUserChange, onWipe } from "./session";
import { claimDrafts, clearAllDrafts } from "../lib/drafts";
import { uploads } from "../upload/queue";

/** Full page loads, kept in one place so tests can watch them. */
export const hardNavigation = {
  assign(url: string): void {
    window.location.assign(url);
  },
};

/** Stop and forget the uploads and drop every draft of this browser. */
export function wipeLocalData(): void {
  uploads.reset();
  clearAllDrafts();
}

/**
 * The user signed out (here or everywhere) or deleted the account: wipe, tell the other
 * tabs to do the same, and start over with a full page load (which also drops the
 * GraphQL cache and every module's state).
 */
export function leaveAfterSignOut(): void {
  wipeLocalData();
  endSession({ wipe: true });
  hardNavigation.assign("/signin");
}

/**
 * Wire the guards; returns a function that removes them. A different user signing in
 * (after the previous one's session expired) finds no upload and no draft of the other;
 * the same user coming back keeps both (the `expired=1` path).
 */
export function guardUserData(): () => void {
  const offUser = onUserChange((previous, next) => {
    if (previous !== null && previous !== next) uploads.reset();
    claimDrafts(next);
  });
  const offWipe = onWipe(() => {
    wipeLocalData();
    hardNavigation.assign("/signin");
  });
  return () => {
    offUser();
    offWipe();
  };
}
