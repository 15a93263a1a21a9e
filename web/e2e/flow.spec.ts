/**
 * The whole life of a recording, as a person lives it, once per UI language: uz on a
 * phone, ru on a desktop, en on both (the names the issue fixes are the English ones, so
 * English runs at both sizes). Every page at both sizes in all three languages is
 * screenshotted and axe-checked by pages.spec.ts; this file checks behaviour.
 */
import { readFileSync } from "node:fs";
import {
  App,
  DESKTOP,
  LOCALES,
  PHONE,
  audioTime,
  checkPage,
  escapeRegExp,
  expect,
  requireChromium,
  test,
  type Lang,
} from "./support/fixtures";
import { clipPath } from "./support/env";
import { parseSrt } from "./support/srt";

requireChromium();

const FLOWS: { lang: Lang; viewport: { width: number; height: number } }[] = [
  { lang: "uz", viewport: PHONE },
  { lang: "ru", viewport: DESKTOP },
  { lang: "en", viewport: PHONE },
  { lang: "en", viewport: DESKTOP },
];

/** What a person types, in their language. */
const TYPED: Record<Lang, { first: string; mine: string; theirs: string; terms: string[] }> = {
  uz: {
    first: "Salom, bu tuzatilgan matn",
    mine: "Mening variantim: oʻzgartirildi",
    theirs: "Boshqa oynadagi tahrir",
    terms: ["Dilnoza Karimova", "Oʻktam", "Chorsu"],
  },
  ru: {
    first: "Привет, это исправленный текст",
    mine: "Мой вариант текста",
    theirs: "Правка из другого окна",
    terms: ["Дильноза Каримова", "Чорсу"],
  },
  en: {
    first: "Hello, this text was corrected",
    mine: "My version of the text",
    theirs: "An edit from another window",
    terms: ["Dilnoza Karimova", "Chorsu"],
  },
};

const ORDER = ["QUEUED", "PROCESSING", "COMPLETED"];

for (const { lang, viewport } of FLOWS) {
  test.describe(`${lang} at ${viewport.width}×${viewport.height}`, () => {
    test.use({ locale: LOCALES[lang], viewport });

    test("sign in, upload, watch it transcribed live, seek, edit, resolve a conflict, export SRT, restore, delete", async ({
      page,
      browser,
      server,
    }) => {
      const app = new App(page, lang, server);
      const clip = clipPath();
      const typed = TYPED[lang];
      let documentLoads = 0;
      page.on("load", () => {
        documentLoads += 1;
      });

      // First visit: the UI follows the browser's language, and asks to sign in.
      await page.goto("/");
      await expect(page).toHaveURL(/\/signin\?next=%2F/);
      await expect(page.locator("html")).toHaveAttribute("lang", lang);
      const phone = await app.signIn(undefined, {
        atCode: () => checkPage(page, lang, "signin-code"),
      });
      await expect(page.getByRole("heading", { level: 1, name: app.t("library.title"), exact: true })).toBeVisible();
      await expect(page.getByText(app.t("library.empty"), { exact: true })).toBeVisible();

      // Upload, and watch Queued → Processing → Completed arrive without reloading.
      await page.getByLabel(app.t("upload.language"), { exact: true }).selectOption("en");
      await app.watchStatuses();
      const loadsBefore = documentLoads;
      await app.upload(clip.path);
      await expect(page.locator("li.upload-item").filter({ hasText: clip.name })).toHaveAttribute(
        "data-upload-state",
        "uploaded",
        { timeout: 30_000 },
      );
      const row = app.row(clip.name);
      await expect(row).toHaveCount(1, { timeout: 20_000 });
      await app.waitCompleted(row);
      expect(documentLoads, "the library updated itself without a reload").toBe(loadsBefore);
      const seen = await app.statusesSeen(clip.name);
      expect(seen.every((s) => ORDER.includes(s)), `statuses shown: ${seen.join(" → ")}`).toBe(true);
      expect([...seen].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b)), `in order: ${seen.join(" → ")}`).toEqual(seen);
      expect(seen.slice(-2), `statuses shown: ${seen.join(" → ")}`).toEqual(["PROCESSING", "COMPLETED"]);

      // The recording: one player, the transcript as segments, the four exports.
      await page.getByRole("link", { name: clip.name, exact: true }).click();
      await expect(page).toHaveURL(/\/audio\/[0-9a-f-]{36}$/);
      const audioId = new URL(page.url()).pathname.split("/")[2] ?? "";
      await expect(page.getByRole("heading", { level: 1, name: clip.name, exact: true })).toBeVisible();
      const segments = page.locator("[data-segment-start]");
      await expect(segments.first()).toBeVisible();
      await expect(page.locator("ol.segments")).toContainText(clip.text);
      await expect(page.locator("audio")).toHaveCount(1);
      for (const format of ["TXT", "SRT", "VTT", "JSON"]) {
        await expect(page.getByRole("link", { name: format, exact: true })).toBeVisible();
      }

      // Click a word, then a segment: the player's position follows.
      await expect
        .poll(() => page.locator("audio").evaluate((el: HTMLAudioElement) => el.readyState), {
          message: "the player loaded the audio's metadata through its signed URL",
        })
        .toBeGreaterThanOrEqual(1);
      const wordStarts = await page
        .locator("[data-word-start]")
        .evaluateAll((els) => els.map((el) => Number(el.getAttribute("data-word-start"))));
      const wordIndex = wordStarts.findIndex((s) => s >= 2);
      expect(wordIndex, `a word starting 2 s in or later among ${wordStarts.length}`).toBeGreaterThanOrEqual(0);
      const wordStart = wordStarts[wordIndex] ?? 0;
      await page.locator("[data-word-start]").nth(wordIndex).click();
      await expect.poll(async () => Math.abs((await audioTime(page)) - wordStart)).toBeLessThan(0.3);
      const segmentStart = Number(await segments.first().getAttribute("data-segment-start"));
      expect(Math.abs(segmentStart - wordStart)).toBeGreaterThan(0.5);
      await segments.first().click({ position: { x: 3, y: 3 } });
      await expect.poll(async () => Math.abs((await audioTime(page)) - segmentStart)).toBeLessThan(0.3);

      // Edit the first segment in place: Enter saves; a reload shows it kept (and still signed in).
      const first = segments.first();
      await first.getByRole("button", { name: app.t("edit.edit"), exact: true }).click();
      await first.getByRole("textbox").fill(typed.first);
      await checkPage(page, lang, "recording-editing");
      await first.getByRole("textbox").press("Enter");
      await expect(first.getByRole("textbox")).toHaveCount(0);
      await expect(first).toContainText(typed.first);
      await expect(first).toContainText(app.t("rec.edited"));
      await page.reload();
      await expect(segments.first()).toContainText(typed.first);

      // A conflict: this page is editing the segment while another browser saves it.
      await segments.first().getByRole("button", { name: app.t("edit.edit"), exact: true }).click();
      await segments.first().getByRole("textbox").fill(typed.mine);
      const other = await browser.newContext({ locale: LOCALES[lang], viewport, baseURL: server.url });
      try {
        const otherPage = await other.newPage();
        const otherApp = new App(otherPage, lang, server);
        await otherApp.signIn(phone, { from: `/audio/${audioId}` });
        await expect(otherPage).toHaveURL(new RegExp(`/audio/${audioId}$`));
        const theirs = otherPage.locator("[data-segment-start]").first();
        await theirs.getByRole("button", { name: app.t("edit.edit"), exact: true }).click();
        await theirs.getByRole("textbox").fill(typed.theirs);
        await theirs.getByRole("textbox").press("Enter");
        await expect(theirs).toContainText(typed.theirs);

        await segments.first().getByRole("textbox").press("Enter");
        const conflict = page.getByRole("group", { name: app.t("edit.conflictTitle"), exact: true });
        await expect(conflict).toBeVisible();
        await expect(conflict.locator('[data-version="theirs"]')).toHaveText(typed.theirs);
        await expect(conflict.getByRole("textbox", { name: app.t("edit.yours"), exact: true })).toHaveValue(typed.mine);
        await checkPage(page, lang, "recording-conflict");
        await app.button("edit.keepMine").click();
        await expect(conflict).toHaveCount(0);
        await expect(segments.first()).toContainText(typed.mine);

        // Export SRT through its signed link and read it strictly.
        const downloading = page.waitForEvent("download");
        await page.getByRole("link", { name: "SRT", exact: true }).click();
        const download = await downloading;
        expect(download.suggestedFilename()).toMatch(/\.srt$/);
        const cues = parseSrt(readFileSync(await download.path(), "utf8"));
        expect(cues.length).toBeGreaterThan(0);
        // Where the transcript has speakers, each cue starts with its speaker's name ("Speaker 1:",
        // in the reader's language): the JSON export lists them. The words are what is checked.
        const json = await page.request.get((await page.getByRole("link", { name: "JSON", exact: true }).getAttribute("href")) ?? "");
        const names = (((await json.json()) as { speakers?: { name: string }[] }).speakers ?? []).map((s) => `${s.name}:`);
        const spoken = cues
          .map((c) => names.reduce((text, name) => text.split(name).join(" "), c.text))
          .join(" ")
          .replace(/\s+/g, " ");
        expect(spoken).toContain(typed.mine);
        expect(spoken).not.toContain(typed.theirs);

        // History: the other browser's text is kept there; restore the transcriber's version.
        await page.getByRole("link", { name: app.t("rec.history"), exact: true }).click();
        await expect(page).toHaveURL(new RegExp(`/audio/${audioId}/history$`));
        await expect(page.getByRole("heading", { level: 1, name: app.t("hist.title"), exact: true })).toBeVisible();
        const events = page.getByRole("list", { name: app.t("hist.timeline"), exact: true }).getByRole("listitem");
        const edits = events.filter({ hasText: app.t("event.TranscriptEdited") });
        await expect(edits).toHaveCount(3);
        await edits.nth(1).getByRole("link").click();
        await expect(page.locator("section.version-view")).toContainText(typed.theirs);
        const completed = events.filter({ hasText: app.t("event.TranscriptionCompleted") });
        const completedVersion = Number(new URL((await completed.getByRole("link").getAttribute("href")) ?? "", server.url).searchParams.get("version"));
        await completed.getByRole("link").click();
        const version = page.locator("section.version-view");
        await expect(version).toContainText(clip.text);
        await checkPage(page, lang, "history-version-flow");
        await app.button("hist.restore").click();
        // A new edit, now the current version, and the page says so.
        const restoredAs = new RegExp(
          `^${escapeRegExp(app.t("hist.restoredAs", { n: completedVersion, m: 999_999 })).replace("999999", "\\d+")}$`,
        );
        await expect(page.getByRole("status").filter({ hasText: restoredAs })).toBeVisible();
        await expect(edits).toHaveCount(4);
        await expect(events.first()).toContainText(app.t("event.TranscriptEdited"));
        await expect(events.first()).toContainText(app.t("hist.current"));
        await page.getByRole("link", { name: app.t("hist.back"), exact: true }).click();
        await expect(page.locator("section.transcript")).toContainText(clip.text);
        await expect(page.locator("section.transcript")).not.toContainText(typed.mine);

        // Delete the recording (asked first); its media link stops working.
        const fileUrl = await page.locator("audio").getAttribute("src");
        expect(fileUrl).toBeTruthy();
        await app.button("rec.delete").click();
        await app.button("rec.deleteYes").click();
        await expect(page).toHaveURL(`${server.url}/`);
        await expect(page.getByText(app.t("library.empty"), { exact: true })).toBeVisible();
        await expect(app.row(clip.name)).toHaveCount(0);
        expect((await page.request.get(fileUrl ?? "")).status()).toBeGreaterThanOrEqual(400);

        // The vocabulary (typed with a comma, kept one a line) is still there after a reload.
        await page.getByRole("link", { name: app.t("nav.account"), exact: true }).click();
        await expect(page.getByRole("heading", { level: 1, name: app.t("acc.title"), exact: true })).toBeVisible();
        const vocabulary = page.getByRole("textbox", { name: app.t("vocab.label"), exact: true });
        await vocabulary.fill(typed.terms.join(", "));
        await app.button("vocab.save").click();
        await expect(page.getByText(app.t("vocab.saved"), { exact: true })).toBeVisible();
        await expect(vocabulary).toHaveValue(typed.terms.join("\n"));
        await page.reload();
        await expect(vocabulary).toHaveValue(typed.terms.join("\n"));

        // Delete the account, confirmed by typing; it ends on the sign-in page, everywhere.
        const word = app.t("acc.deleteWord");
        await expect(app.button("acc.deleteButton")).toBeDisabled();
        await page.getByRole("textbox", { name: app.t("acc.deleteType", { word }), exact: true }).fill(word);
        await app.button("acc.deleteButton").click();
        await expect(page).toHaveURL(/\/signin/);
        await expect(page.getByRole("textbox", { name: app.t("signin.phone"), exact: true })).toBeVisible();
        await otherPage.reload();
        await expect(otherPage).toHaveURL(/\/signin/);
      } finally {
        await other.close();
      }
    });
  });
}
