#!/usr/bin/env node
// First-load JavaScript of the built app, gzipped: every script and modulepreload that
// dist/index.html references. Prints {"firstLoadJsGzipBytes": N} (plus the files).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const html = readFileSync(join(dist, "index.html"), "utf8");
const refs = new Set();
for (const m of html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)) refs.add(m[1]);
for (const m of html.matchAll(/<link\b[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+)"/g)) refs.add(m[1]);
for (const m of html.matchAll(/<link\b[^>]*\bhref="([^"]+)"[^>]*\brel="modulepreload"/g)) refs.add(m[1]);

const files = {};
let total = 0;
for (const ref of refs) {
  const bytes = gzipSync(readFileSync(join(dist, ref.replace(/^\//, ""))), { level: 9 }).length;
  files[ref] = bytes;
  total += bytes;
}
console.log(JSON.stringify({ firstLoadJsGzipBytes: total, files }));
