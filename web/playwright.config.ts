/**
 * The browser tier: real Chromium (Debian's, never a downloaded one) against a real
 * `ovoz serve` with its embedded PostgreSQL and the bundled model, started by
 * e2e/global-setup.ts. `npx playwright test` with no arguments runs all of it; the
 * bench (e2e/bench.spec.ts) runs only with OVOZ_BENCH=1.
 */
import { defineConfig } from "@playwright/test";
import { chromiumPath } from "./e2e/support/env";

const chromium = chromiumPath();

export default defineConfig({
  testDir: "./e2e",
  testMatch: /.*\.spec\.ts$/,
  outputDir: "./test-results/artifacts",
  globalSetup: "./e2e/global-setup.ts",
  // Two CPU cores and one transcription worker: tests queue behind each other's
  // transcriptions anyway, so one browser at a time is both faster and steadier.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  timeout: 150_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    headless: true,
    ...(chromium
      ? {
          launchOptions: {
            executablePath: chromium,
            args: [
              "--no-sandbox", // we run as root
              "--use-fake-ui-for-media-stream",
              "--use-fake-device-for-media-stream",
            ],
          },
        }
      : {}),
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
});
