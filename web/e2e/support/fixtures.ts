/**
 * What every browser test shares: the server under test, the UI's own dictionaries (so a
 * test finds "Send code" as the user reads it in uz, ru or en), sign-in through the SMS
 * outbox, axe-core and screenshots.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { test as base, expect, type Locator, type Page } from "@playwright/test";
import { AxeBuilder } from "@axe-core/playwright";
import { en } from "../../src/i18n/en";
import { ru } from "../../src/i18n/ru";
import { uz } from "../../src/i18n/uz";
import { chromiumPath, NO_CHROMIUM, SCREENSHOTS } from "./env";
import type { ServerInfo } from "./server";

export { expect };
export type Lang = "uz" | "ru" | "en";
export type Key = keyof typeof en;
export const LANGS: readonly Lang[] = ["uz", "ru", "en"];
/** Chromium's locale decides navigator.languages: the app must follow it on a first visit. */
export const LOCALES: Record<Lang, string> = { uz: "uz-UZ", ru: "ru-RU", en: "en-US" };
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };
const DICTIONARIES: Record<Lang, Record<Key, string>> = { uz, ru, en };

/** A string of the UI in a language, with {vars} filled in as the app does. */
export function tr(lang: Lang, key: Key, vars: Record<string, string | number> = {}): string {
  return DICTIONARIES[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    vars[name] === undefined ? whole : String(vars[name]),
  );
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Every spec calls this first: without a Chromium the whole tier skips, saying how to get one. */
export function requireChromium(): void {
  base.skip(!chromiumPath(), NO_CHROMIUM);
}

export function sharedServer(): ServerInfo {
  const url = process.env.OVOZ_E2E_URL;
  const varDir = process.env.OVOZ_E2E_VAR_DIR;
  if (!url || !varDir) throw new Error("OVOZ_E2E_URL is not set: run the tests through playwright.config.ts (its globalSetup starts ovoz)");
  return { url, varDir, port: Number(new URL(url).port) };
}

/** A fresh +99890 number per sign-in, so every test is a new user. */
export function randomPhone(): string {
  return `+99890${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
}

interface OutboxLine {
  to: string;
  code: string;
}

function codesFor(varDir: string, phone: string): string[] {
  let text = "";
  try {
    text = readFileSync(path.join(varDir, "sms-outbox.jsonl"), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as OutboxLine)
    .filter((line) => line.to === phone)
    .map((line) => line.code);
}

/** Polls the development SMS outbox for the code sent after `already` earlier ones. */
export async function waitForCode(varDir: string, phone: string, already: number): Promise<string> {
  let code = "";
  await expect
    .poll(
      () => {
        const codes = codesFor(varDir, phone);
        code = codes.length > already ? (codes[codes.length - 1] ?? "") : "";
        return code;
      },
      { message: `an SMS code for ${phone} in the outbox`, timeout: 20_000 },
    )
    .toMatch(/^\d{6}$/);
  return code;
}

/** The app in one page, in one language. */
export class App {
  /** The number this page signed in with. */
  phone: string | null = null;

  constructor(
    readonly page: Page,
    readonly lang: Lang,
    readonly server: ServerInfo,
  ) {}

  t(key: Key, vars?: Record<string, string | number>): string {
    return tr(this.lang, key, vars);
  }

  button(key: Key, vars?: Record<string, string | number>): Locator {
    return this.page.getByRole("button", { name: this.t(key, vars), exact: true });
  }

  /** Sign in through the UI with the code from the outbox; ends on the library. */
  async signIn(
    phone: string = randomPhone(),
    { from = "/", atCode }: { from?: string; atCode?: () => Promise<void> } = {},
  ): Promise<string> {
    const { page } = this;
    if (!page.url().includes("/signin")) await page.goto(from);
    await expect(page).toHaveURL(/\/signin/);
    await page.getByRole("textbox", { name: this.t("signin.phone"), exact: true }).fill(phone);
    const before = codesFor(this.server.varDir, phone).length;
    await this.button("signin.send").click();
    const code = await waitForCode(this.server.varDir, phone, before);
    const codeBox = page.getByRole("textbox", { name: this.t("signin.code"), exact: true });
    await expect(codeBox).toHaveAttribute("autocomplete", "one-time-code");
    await expect(codeBox).toBeFocused();
    if (atCode) await atCode();
    await codeBox.fill(code);
    await this.button("signin.submit").click();
    await expect(page).not.toHaveURL(/\/signin/, { timeout: 20_000 });
    this.phone = phone;
    return phone;
  }

  /** The library's row of a recording (its link is named by the filename). */
  row(filename: string): Locator {
    return this.page.locator("li.audio-item").filter({
      has: this.page.getByRole("link", { name: filename, exact: true }),
    });
  }

  async upload(files: string | string[] | { name: string; mimeType: string; buffer: Buffer }[]): Promise<void> {
    await this.page.getByLabel(this.t("upload.input"), { exact: true }).setInputFiles(files as string[]);
  }

  /** Records every status word any library row or recording page shows, in order, per filename. */
  async watchStatuses(): Promise<void> {
    await this.page.evaluate(() => {
      const w = window as unknown as { __statuses?: Record<string, string[]>; __statusObserver?: MutationObserver };
      if (w.__statusObserver) return;
      w.__statuses = {};
      const record = (): void => {
        for (const badge of Array.from(document.querySelectorAll("[data-status]"))) {
          const item = badge.closest("li.audio-item");
          const name = item?.querySelector("a.audio-name")?.textContent ?? document.querySelector("h1")?.textContent ?? "?";
          const status = badge.getAttribute("data-status") ?? "";
          const seen = (w.__statuses![name] ??= []);
          if (seen[seen.length - 1] !== status) seen.push(status);
        }
      };
      w.__statusObserver = new MutationObserver(record);
      w.__statusObserver.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
      record();
    });
  }

  async statusesSeen(name: string): Promise<string[]> {
    return this.page.evaluate((n) => (window as unknown as { __statuses?: Record<string, string[]> }).__statuses?.[n] ?? [], name);
  }

  /** Waits for the row to say Completed; if it never does, the failure says what the server has. */
  async waitCompleted(row: Locator): Promise<void> {
    try {
      await expect(row.locator("[data-status]")).toHaveAttribute("data-status", "COMPLETED", { timeout: 90_000 });
    } catch (error) {
      let server = "unknown";
      try {
        if (this.phone) {
          const token = await apiSignIn(this.server, this.phone);
          const list = await gql<{ audios: { items: { filename: string; status: string; updatedAt: string }[] } }>(
            this.server,
            "{ audios(skip: 0, limit: 50) { items { filename status updatedAt } } }",
            {},
            token,
          );
          server = JSON.stringify(list.audios.items);
        }
      } catch (inner) {
        server = `not known (${String(inner)})`;
      }
      throw new Error(`${String(error)}\nThe server's recordings of this user: ${server}`);
    }
    await expect(row.locator("[data-status]")).toHaveText(this.t("status.COMPLETED"));
  }
}

/** axe-core on what the page shows now: no serious or critical violation. */
export async function checkA11y(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const report = bad
    .map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(" ")} — ${n.failureSummary ?? ""}`).join("\n")}`)
    .join("\n");
  expect(bad, `axe-core on ${what} (${page.url()}):\n${report}`).toEqual([]);
}

/** web/test-results/screenshots/<lang>-<width>-<name>.png */
export async function screenshot(page: Page, lang: Lang, name: string): Promise<void> {
  const width = page.viewportSize()?.width ?? 0;
  await page.screenshot({ path: path.join(SCREENSHOTS, `${lang}-${width}-${name}.png`), fullPage: true });
}

/** Both at once, as every page of the app gets them. */
export async function checkPage(page: Page, lang: Lang, name: string): Promise<void> {
  await screenshot(page, lang, name);
  await checkA11y(page, `${lang} ${page.viewportSize()?.width ?? 0}px ${name}`);
}

export async function audioTime(page: Page): Promise<number> {
  return page.locator("audio").evaluate((el: HTMLAudioElement) => el.currentTime);
}

export const test = base.extend<{ server: ServerInfo }>({
  server: async ({}, use) => {
    await use(sharedServer());
  },
  baseURL: async ({ server }, use) => {
    await use(server.url);
  },
});

/** GraphQL over HTTP from the test itself (setup and checks the UI cannot show). */
export async function gql<T = any>(server: ServerInfo, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
  const response = await fetch(`${server.url}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (!body.data) throw new Error(`GraphQL: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** A second session of the same person, through the API: another code from the outbox. */
export async function apiSignIn(server: ServerInfo, phone: string): Promise<string> {
  const already = codesFor(server.varDir, phone).length;
  const sent = await gql<{ sendOtp: { __typename: string } }>(
    server,
    "mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename } }",
    { p: phone },
  );
  expect(sent.sendOtp.__typename).toBe("OtpSent");
  const code = await waitForCode(server.varDir, phone, already);
  const verified = await gql<{ verifyOtp: { accessToken?: string } }>(
    server,
    "mutation($p: String!, $c: String!) { verifyOtp(phoneNumber: $p, otpCode: $c) { ... on Token { accessToken } } }",
    { p: phone, c: code },
  );
  if (!verified.verifyOtp.accessToken) throw new Error(`no token for ${phone}`);
  return verified.verifyOtp.accessToken;
}

/**
 * A longer recording made of the clip said `times` over (Chromium decodes it; the test
 * writes 16-kHz 16-bit mono WAV), for tests that must catch a transcription in progress.
 */
export async function repeatedClip(page: Page, clip: { path: string }, times: number): Promise<Buffer> {
  const wav = await page.evaluate(
    async ({ base64, times }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const rate = 16_000;
      const decoded = await new OfflineAudioContext(1, 1, rate).decodeAudioData(bytes.buffer);
      const speech = decoded.getChannelData(0);
      const gap = rate; // a second of silence between the repetitions
      const samples = new Float32Array((speech.length + gap) * times);
      for (let i = 0; i < times; i += 1) samples.set(speech, i * (speech.length + gap));
      const out = new DataView(new ArrayBuffer(44 + samples.length * 2));
      const text = (offset: number, s: string): void => {
        for (let i = 0; i < s.length; i += 1) out.setUint8(offset + i, s.charCodeAt(i));
      };
      text(0, "RIFF");
      out.setUint32(4, 36 + samples.length * 2, true);
      text(8, "WAVEfmt ");
      out.setUint32(16, 16, true);
      out.setUint16(20, 1, true);
      out.setUint16(22, 1, true);
      out.setUint32(24, rate, true);
      out.setUint32(28, rate * 2, true);
      out.setUint16(32, 2, true);
      out.setUint16(34, 16, true);
      text(36, "data");
      out.setUint32(40, samples.length * 2, true);
      for (let i = 0; i < samples.length; i += 1) {
        out.setInt16(44 + i * 2, Math.max(-1, Math.min(1, samples[i] ?? 0)) * 0x7fff, true);
      }
      let binary = "";
      const all = new Uint8Array(out.buffer);
      for (let i = 0; i < all.length; i += 0x8000) binary += String.fromCharCode(...all.subarray(i, i + 0x8000));
      return btoa(binary);
    },
    { base64: readFileSync(clip.path).toString("base64"), times },
  );
  return Buffer.from(wav, "base64");
}
