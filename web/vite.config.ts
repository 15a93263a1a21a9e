/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a local `ovoz serve` (OVOZ_API overrides the address).
const api = process.env.OVOZ_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/graphql": { target: api, ws: true, changeOrigin: false },
      // /audio/<id> is also a page of the app: only non-page requests (media, exports) go on.
      "/audio": {
        target: api,
        changeOrigin: false,
        bypass: (req) => (req.headers.accept?.includes("text/html") ? "/index.html" : undefined),
      },
    },
  },
  build: {
    target: "es2022",
    // The server's CSP forbids inline scripts: never inline the module preload polyfill.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    // The app, and GraphiQL for /graphql (its own entry: none of it is in the app's load).
    rollupOptions: { input: { main: "index.html", graphiql: "graphiql.html" } },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
