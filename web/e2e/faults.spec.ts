/**
 * Bad input and faults on the shared server, one signed-in user in one browser context:
 * a file over the limit, a connection dropped during an upload, two tabs editing the
 * same segment (with a draft that survives a reload), and a recording made with
 * Chromium's fake microphone. `page.route` only injects the fault; the server is real.
 */
import { readFileSync } from "node:fs";
import type { BrowserContext, Page, Request } from "@playwright/test";
import { App, DESKTOP, checkPage, expect, requireChromium, sharedServer, test } from "./support/fixtures";
import { MAX_UPLOAD_BYTES, clipPath } from "./support/env";

requireChromium();
test.describe.configure({ mode: "serial" });

let context: BrowserContext;
let page: Page;
let app: App;
const clip = clipPath();
const dropped = `dropped-${clip.name}`;

function isUpload(request: Request): boolean {
  return request.method() === "POST" && (request.headers()["content-type"] ?? "").startsWith("multipart/form-data");
}

test.beforeAll(async ({ browser }) => {
  const server = sharedServer();
  context = await browser.newContext({ locale: "en-US", viewport: DESKTOP, baseURL: server.url, permissions: ["microphone"] });
  page = await context.newPage();
  app = new App(page, "en", server);
  await app.signIn();
});

test.afterAll(async () => {
  await context?.close();
});

test("a file over maxUploadBytes is refused before a byte is sent", async () => {
  const uploads: string[] = [];
  const onRequest = (request: Request): void => {
    if (isUpload(request)) uploads.push(request.url());
  };
  page.on("request", onRequest);
  // The limit comes from serverInfo; it is shown once known.
  await expect(page.getByText(app.t("upload.limit", { max: "2 MB" }), { exact: true })).toBeVisible();
  await app.upload([{ name: "too-big.flac", mimeType: "audio/flac", buffer: Buffer.alloc(MAX_UPLOAD_BYTES + 1) }]);
  const item = page.locator("li.upload-item").filter({ hasText: "too-big.flac" });
  await expect(item).toHaveAttribute("data-upload-state", "refused");
  await expect(item).toContainText(app.t("upload.refused"));
  // 2,000,001 bytes against 2,000,000: rounded, both would read "2 MB", so the app
  // gives them in bytes.
  await expect(item.getByRole("alert")).toHaveText(
    app.t("upload.tooLarge", { size: "2,000,001 B", max: "2,000,000 B" }),
  );
  await checkPage(page, "en", "library-refused");
  await page.waitForTimeout(500);
  page.off("request", onRequest);
  expect(uploads, "no multipart request was made").toEqual([]);
  await item.getByRole("button", { name: app.t("upload.dismiss"), exact: true }).click();
  await expect(item).toHaveCount(0);
});

test("recording from the microphone: about 2 s, then stop, and it uploads", async () => {
  await page.getByRole("link", { name: app.t("nav.library"), exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: app.t("library.title"), exact: true })).toBeVisible();
  await app.button("record.start").click();
  const recorder = page.getByRole("group", { name: app.t("record.recording"), exact: true });
  await expect(recorder).toBeVisible();
  await expect(recorder.getByRole("meter", { name: app.t("record.level"), exact: true })).toBeVisible();
  await page.waitForTimeout(2_300);
  await expect(recorder.locator(".timer")).not.toHaveText("0:00");
  await checkPage(page, "en", "library-recording-microphone");
  await app.button("record.stop").click();
  await expect(recorder).toHaveCount(0);
  const item = page.locator("li.upload-item").filter({ hasText: /recording-.*\.(webm|ogg|m4a)/ });
  await expect(item).toHaveAttribute("data-upload-state", "uploaded", { timeout: 30_000 });
  const name = (await item.locator(".filename").textContent()) ?? "";
  const row = app.row(name);
  await expect(row).toHaveCount(1, { timeout: 20_000 });
  await expect(row.locator("[data-status]")).toHaveAttribute("data-status", /QUEUED|PROCESSING|COMPLETED/);
  // About two seconds of audio arrived (not an empty file).
  await expect(row.locator(".audio-meta span").first()).toHaveText(/^0:0[1-4]$/);
});

test("a connection dropped during an upload offers a retry, and the retry works", async () => {
  let aborted = 0;
  await page.route("**/graphql", async (route) => {
    if (isUpload(route.request()) && aborted === 0) {
      aborted += 1;
      await route.abort("connectionreset");
      return;
    }
    await route.fallback();
  });
  await page.getByLabel(app.t("upload.language"), { exact: true }).selectOption("en");
  await app.upload([{ name: dropped, mimeType: clip.mimeType, buffer: readFileSync(clip.path) }]);
  const item = page.locator("li.upload-item").filter({ hasText: dropped });
  await expect(item).toHaveAttribute("data-upload-state", "failed");
  await expect(item.getByRole("alert")).toHaveText(app.t("upload.networkFailed"));
  expect(aborted).toBe(1);
  await expect(app.row(dropped)).toHaveCount(0);
  await item.getByRole("button", { name: app.t("upload.tryAgain"), exact: true }).click();
  await expect(item).toHaveAttribute("data-upload-state", "uploaded", { timeout: 30_000 });
  await page.unroute("**/graphql");
  await expect(app.row(dropped)).toHaveCount(1, { timeout: 20_000 });
  await app.waitCompleted(app.row(dropped));
});

test("two tabs editing the same segment: the later save sees both versions, a draft survives a reload", async () => {
  await page.getByRole("link", { name: dropped, exact: true }).click();
  await expect(page).toHaveURL(/\/audio\/[0-9a-f-]{36}$/);
  const url = page.url();
  const second = await context.newPage();
  try {
    await second.goto(url);
    const one = page.locator("[data-segment-start]").first();
    const two = second.locator("[data-segment-start]").first();
    await expect(two).toBeVisible();

    // The second tab starts an edit and reloads before saving: the draft is back.
    await two.getByRole("button", { name: app.t("edit.edit"), exact: true }).click();
    await two.getByRole("textbox").fill("Written in the second tab");
    await second.reload();
    await expect(second.getByText(app.t("edit.draftRestored"), { exact: true })).toBeVisible();
    await expect(two.getByRole("textbox")).toHaveValue("Written in the second tab");

    // Meanwhile the first tab saves the same segment.
    await one.getByRole("button", { name: app.t("edit.edit"), exact: true }).click();
    await one.getByRole("textbox").fill("Written in the first tab");
    await one.getByRole("textbox").press("Enter");
    await expect(one).toContainText("Written in the first tab");

    // The second tab's save meets the first tab's: both shown, the user picks the saved one.
    await two.getByRole("textbox").press("Enter");
    const conflict = second.getByRole("group", { name: app.t("edit.conflictTitle"), exact: true });
    await expect(conflict).toBeVisible();
    await expect(conflict.locator('[data-version="theirs"]')).toHaveText("Written in the first tab");
    await expect(conflict.getByRole("textbox", { name: app.t("edit.yours"), exact: true })).toHaveValue("Written in the second tab");
    await second.getByRole("button", { name: app.t("edit.useTheirs"), exact: true }).click();
    await expect(conflict).toHaveCount(0);
    await expect(two).toContainText("Written in the first tab");

    // Both tabs are still signed in (their refreshes were serialized), and agree.
    await page.reload();
    await expect(page.locator("[data-segment-start]").first()).toContainText("Written in the first tab");
    await second.reload();
    await expect(second.locator("[data-segment-start]").first()).toContainText("Written in the first tab");
    await expect(second.getByText(app.t("edit.draftRestored"), { exact: true })).toHaveCount(0);
  } finally {
    await second.close();
  }
});

test("a library request lost to the network: the list comes back by itself once the connection does", async () => {
  // The refetch after an upload is lost (as when the server restarts at that moment):
  // the new recording must still show up and complete, with no reload and no click.
  await page.getByRole("link", { name: app.t("nav.library"), exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: app.t("library.title"), exact: true })).toBeVisible();
  let lost = 0;
  await page.route("**/graphql", async (route) => {
    const request = route.request();
    if (lost === 0 && request.method() === "POST" && /query Library\b/.test(request.postData() ?? "")) {
      lost += 1;
      await route.abort("internetdisconnected");
      return;
    }
    await route.fallback();
  });
  const name = `lost-list-${clip.name}`;
  await app.upload([{ name, mimeType: clip.mimeType, buffer: readFileSync(clip.path) }]);
  await expect(page.locator("li.upload-item").filter({ hasText: name })).toHaveAttribute("data-upload-state", "uploaded", {
    timeout: 30_000,
  });
  await expect.poll(() => lost, { message: "the library's refetch after the upload was lost" }).toBe(1);
  await page.unroute("**/graphql");
  const row = app.row(name);
  await expect(row).toHaveCount(1, { timeout: 30_000 });
  await app.waitCompleted(row);
});
