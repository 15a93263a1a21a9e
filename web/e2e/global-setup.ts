/**
 * One `ovoz serve` for the whole run, in a fresh var dir; the tests find it through
 * OVOZ_E2E_URL and OVOZ_E2E_VAR_DIR. Without a Chromium nothing is started: every
 * spec skips itself with the message that says how to get one.
 */
import { mkdirSync, rmSync } from "node:fs";
import { chromiumPath, NO_CHROMIUM, SCREENSHOTS } from "./support/env";
import { OvozServer } from "./support/server";

export default async function globalSetup(): Promise<(() => Promise<void>) | undefined> {
  rmSync(SCREENSHOTS, { recursive: true, force: true });
  mkdirSync(SCREENSHOTS, { recursive: true });
  if (!chromiumPath()) {
    console.warn(`\n${NO_CHROMIUM}\n`);
    return undefined;
  }
  const server = new OvozServer("shared");
  const started = Date.now();
  try {
    await server.start();
  } catch (error) {
    await server.dispose();
    throw error;
  }
  console.log(`ovoz serve is up at ${server.url} in ${((Date.now() - started) / 1000).toFixed(1)} s (var dir ${server.varDir})`);
  process.env.OVOZ_E2E_URL = server.url;
  process.env.OVOZ_E2E_VAR_DIR = server.varDir;
  return async () => {
    await server.dispose();
  };
}
