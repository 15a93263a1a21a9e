/**
 * Every page of the app at 390×844 and 1280×800 in uz, ru and en: a screenshot each
 * (web/test-results/screenshots/<lang>-<width>-<page>.png) and axe-core with no serious
 * or critical violation. One user and one pair of uploads serve all 42 views; the
 * language is changed with the header's switch, so the switch is tested too.
 */
import { readFileSync } from "node:fs";
import { App, DESKTOP, LANGS, PHONE, checkPage, expect, requireChromium, test, tr, type Lang } from "./support/fixtures";
import { clipPath } from "./support/env";

requireChromium();

test.use({ locale: "en-US", viewport: DESKTOP });

test("every page at both sizes in uz, ru and en: screenshots and axe-core", async ({ page, server }) => {
  test.setTimeout(300_000);
  const clip = clipPath();
  let current: Lang = "en";
  const app = (): App => new App(page, current, server);

  const switchTo = async (lang: Lang): Promise<void> => {
    if (lang !== current) {
      await page.getByRole("combobox", { name: tr(current, "lang.label"), exact: true }).selectOption(lang);
      current = lang;
    }
    await expect(page.locator("html")).toHaveAttribute("lang", lang);
  };
  /** The same view at both sizes in every language; `ready` says what must show first. */
  const everywhere = async (name: string, ready: (a: App) => Promise<void>): Promise<void> => {
    for (const size of [PHONE, DESKTOP]) {
      await page.setViewportSize(size);
      for (const lang of LANGS) {
        await switchTo(lang);
        await ready(app());
        await checkPage(page, lang, name);
      }
    }
  };
  const h1 = (a: App, key: Parameters<App["t"]>[0]) =>
    expect(page.getByRole("heading", { level: 1, name: a.t(key), exact: true })).toBeVisible();

  await page.goto("/");
  await expect(page).toHaveURL(/\/signin/);
  await everywhere("signin", (a) => h1(a, "signin.title"));
  await app().signIn();
  await everywhere("library-empty", async (a) => {
    await h1(a, "library.title");
    await expect(page.getByText(a.t("library.empty"), { exact: true })).toBeVisible();
  });

  // Two uploads at once and one transcription worker: the second one waits, Queued.
  await page.getByLabel(app().t("upload.language"), { exact: true }).selectOption("en");
  await app().watchStatuses();
  const second = `second-${clip.name}`;
  await app().upload([
    { name: clip.name, mimeType: clip.mimeType, buffer: readFileSync(clip.path) },
    { name: second, mimeType: clip.mimeType, buffer: readFileSync(clip.path) },
  ]);
  await app().waitCompleted(app().row(clip.name));
  await app().waitCompleted(app().row(second));
  const sequences = [await app().statusesSeen(clip.name), await app().statusesSeen(second)];
  expect(
    sequences.map((s) => s.join(" → ")),
    "one of two uploads waits in the queue while the other is transcribed",
  ).toContain("QUEUED → PROCESSING → COMPLETED");
  await page.getByRole("button", { name: app().t("upload.dismiss"), exact: true }).first().click();
  await page.getByRole("button", { name: app().t("upload.dismiss"), exact: true }).first().click();
  await everywhere("library", async (a) => {
    await h1(a, "library.title");
    await expect(a.row(clip.name).locator("[data-status]")).toHaveText(a.t("status.COMPLETED"));
  });

  await page.getByRole("link", { name: clip.name, exact: true }).click();
  await everywhere("recording", async (a) => {
    await expect(page.getByRole("heading", { level: 1, name: clip.name, exact: true })).toBeVisible();
    await expect(page.locator("[data-segment-start]").first()).toBeVisible();
    await expect(page.getByRole("button", { name: a.t("rec.delete"), exact: true })).toBeVisible();
  });

  await page.getByRole("link", { name: app().t("rec.history"), exact: true }).click();
  await everywhere("history", (a) => h1(a, "hist.title"));
  await page
    .locator("ol.timeline li")
    .filter({ hasText: app().t("event.TranscriptionCompleted") })
    .getByRole("link")
    .click();
  await everywhere("history-version", async () => {
    await expect(page.locator("section.version-view")).toContainText(clip.text);
  });

  await page.getByRole("link", { name: app().t("nav.account"), exact: true }).click();
  await everywhere("account", async (a) => {
    await h1(a, "acc.title");
    await expect(page.getByRole("button", { name: a.t("acc.deleteButton"), exact: true })).toBeVisible();
  });

  await page.goto("/no/such/page");
  await everywhere("not-found", (a) => h1(a, "notFound.title"));
});
