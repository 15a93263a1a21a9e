import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { ApiProvider } from "./api/ApiProvider";
import { restoreSession } from "./auth/session";
import { guardUserData } from "./auth/userData";
import "./styles.css";

guardUserData();
void restoreSession();

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <ApiProvider>
        <App />
      </ApiProvider>
    </StrictMode>,
  );
}
