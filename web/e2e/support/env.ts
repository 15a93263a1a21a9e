/**
 * Where things are for the browser tests: the repository, the ovoz command, the built
 * app, the Chromium to drive and the clip to upload. Nothing here is downloaded.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REPO_ROOT = path.resolve(WEB_ROOT, "..");
/** The ovoz command under test: the repository's own, or $OVOZ_COMMAND (e.g. an installed build). */
export const OVOZ = process.env.OVOZ_COMMAND || path.join(REPO_ROOT, ".venv", "bin", "ovoz");
/** The built app under test (default web/dist; $OVOZ_WEB_DIST: another build). */
export const WEB_DIST = process.env.OVOZ_WEB_DIST || path.join(WEB_ROOT, "dist");
export const RESULTS = path.join(WEB_ROOT, "test-results");
export const SCREENSHOTS = path.join(RESULTS, "screenshots");

/** Debian's Chromium (or $CHROMIUM_PATH); null where there is none. */
export function chromiumPath(): string | null {
  const candidate = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
  return existsSync(candidate) ? candidate : null;
}

export const NO_CHROMIUM =
  "No Chromium for the browser tests: install Debian's (apt-get install -y chromium) " +
  "or point CHROMIUM_PATH at a Chromium binary. Playwright's own browsers are never downloaded.";

/** The recording every flow uploads: a real one when ../shared/audio is there, else the committed synthetic speech. */
export function clipPath(): { path: string; name: string; mimeType: string; text: RegExp } {
  const dir = process.env.OVOZ_AUDIO_DIR || path.resolve(REPO_ROOT, "..", "shared", "audio");
  const jfk = path.join(dir, "jfk.flac");
  if (existsSync(jfk)) {
    return { path: jfk, name: "jfk.flac", mimeType: "audio/flac", text: /ask not what your country can do for you/i };
  }
  return {
    path: path.join(REPO_ROOT, "tests", "assets", "synthetic-speech-en.ogg"),
    name: "synthetic-speech-en.ogg",
    mimeType: "audio/ogg",
    text: /over the lazy dog/i,
  };
}

/** The shared server's limit: above the real clip (1.15 MB), far below the default 500 MB, so a too-large file is cheap to make. */
export const MAX_UPLOAD_BYTES = 2_000_000;
