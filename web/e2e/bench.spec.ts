/**
 * The web client's bench (not a test: it runs only with OVOZ_BENCH=1). Measured in the
 * browser, on the same machine as the server, against the same wall clock:
 *  - upload click → first progress shown: the file input's change event to the first
 *    frame that shows the file's upload progress (a progress bar above 0, or uploaded);
 *  - COMPLETED committed → COMPLETED painted: the server's updatedAt of the completed
 *    recording to the first frame after the library row's status became COMPLETED
 *    (a MutationObserver, then requestAnimationFrame).
 * JSON goes to $OVOZ_BENCH_OUT (default web/test-results/bench.json).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { App, DESKTOP, apiSignIn, expect, gql, randomPhone, requireChromium, test } from "./support/fixtures";
import { RESULTS, clipPath } from "./support/env";

requireChromium();
test.skip(process.env.OVOZ_BENCH !== "1", "the web bench runs only with OVOZ_BENCH=1");
test.use({ locale: "en-US", viewport: DESKTOP });

const RUNS = Number(process.env.OVOZ_BENCH_RUNS ?? 3);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

test("upload click → first progress, COMPLETED committed → painted", async ({ page, server }) => {
  test.setTimeout(60_000 + RUNS * 60_000);
  const app = new App(page, "en", server);
  const clip = clipPath();
  const phone = randomPhone();
  await app.signIn(phone);
  await page.getByLabel(app.t("upload.language"), { exact: true }).selectOption("en");

  // Wall-clock marks taken in the page (performance.timeOrigin + performance.now()).
  await page.evaluate(() => {
    const w = window as unknown as { __bench: Record<string, number> };
    w.__bench = {};
    const now = (): number => performance.timeOrigin + performance.now();
    const afterPaint = (key: string): void => {
      requestAnimationFrame(() => setTimeout(() => (w.__bench[key] ??= now()), 0));
    };
    document.addEventListener("change", (e) => {
      if ((e.target as HTMLElement).matches('input[type="file"]')) w.__bench[`click:${Object.keys(w.__bench).length}`] = now();
    }, true);
    new MutationObserver(() => {
      for (const li of Array.from(document.querySelectorAll("li.upload-item"))) {
        const name = li.querySelector(".filename")?.textContent ?? "";
        const bar = li.querySelector("progress");
        const state = li.getAttribute("data-upload-state");
        if ((bar && Number(bar.value) > 0) || state === "uploaded") afterPaint(`progress:${name}`);
      }
      for (const li of Array.from(document.querySelectorAll("li.audio-item"))) {
        const name = li.querySelector("a.audio-name")?.textContent ?? "";
        if (li.querySelector('[data-status="COMPLETED"]')) afterPaint(`completed:${name}`);
      }
    }).observe(document.body, { subtree: true, childList: true, attributes: true });
  });

  const names: string[] = [];
  const clicks: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const name = `bench-${i}-${clip.name}`;
    names.push(name);
    const before = Date.now();
    await app.upload([{ name, mimeType: clip.mimeType, buffer: readFileSync(clip.path) }]);
    clicks.push(before);
    await app.waitCompleted(app.row(name));
  }
  const marks = await page.evaluate(() => (window as unknown as { __bench: Record<string, number> }).__bench);
  const clickMarks = Object.entries(marks)
    .filter(([k]) => k.startsWith("click:"))
    .map(([, v]) => v)
    .sort((a, b) => a - b);

  // The server's own commit time of each completion, read through the API.
  const token = await apiSignIn(server, phone);
  const list = await gql<{ audios: { items: { filename: string; updatedAt: string }[] } }>(
    server,
    "{ audios(skip: 0, limit: 50) { items { filename status updatedAt } } }",
    {},
    token,
  );
  const committed = new Map<string, number>(
    list.audios.items.map((a) => [a.filename, Date.parse(a.updatedAt)]),
  );

  const ms = (value: number): number => Math.round(value * 10) / 10;
  const samples = names.map((name, i) => {
    const click = clickMarks[i] ?? clicks[i] ?? 0;
    return {
      uploadClickToFirstProgressMs: ms((marks[`progress:${name}`] ?? NaN) - click),
      completedCommittedToPaintedMs: ms((marks[`completed:${name}`] ?? NaN) - (committed.get(name) ?? NaN)),
    };
  });
  const result = {
    clip: clip.name,
    runs: RUNS,
    clock: "wall clock of one machine: performance.timeOrigin + performance.now() in Chromium, the server's updatedAt",
    uploadClickToFirstProgressMs: { median: median(samples.map((s) => s.uploadClickToFirstProgressMs)), samples: samples.map((s) => s.uploadClickToFirstProgressMs) },
    completedCommittedToPaintedMs: { median: median(samples.map((s) => s.completedCommittedToPaintedMs)), samples: samples.map((s) => s.completedCommittedToPaintedMs) },
  };
  for (const s of samples) {
    expect(Number.isFinite(s.uploadClickToFirstProgressMs) && s.uploadClickToFirstProgressMs >= 0).toBe(true);
    expect(Number.isFinite(s.completedCommittedToPaintedMs)).toBe(true);
  }
  const out = process.env.OVOZ_BENCH_OUT || path.join(RESULTS, "bench.json");
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
});
