import type { Lang } from "../i18n/lang";

/**
 * Bidirectional controls (embeddings, overrides, isolates, LRM/RLM) in a file name make
 * it read reversed ("\u202Egnp.exe" shows as "exe.png"): the server drops them from the
 * names it stores, and the UI drops them from what it shows.
 */
const BIDI_CONTROLS = /[\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

export function displayName(name: string): string {
  return name.replace(BIDI_CONTROLS, "");
}

/** 65.2 → "1:05", 3725 → "1:02:05". */
export function formatClock(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

const INTL_LOCALE: Record<Lang, string> = { uz: "uz-Latn-UZ", ru: "ru-RU", en: "en-GB" };

// Browsers' ICU data often lacks Uzbek month names ("2026 M12 1"): spell them here.
const UZ_MONTHS = ["yanvar", "fevral", "mart", "aprel", "may", "iyun", "iyul", "avgust", "sentabr", "oktabr", "noyabr", "dekabr"];

export function formatDateTime(iso: string, lang: Lang): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  if (lang === "uz") {
    const hh = String(date.getHours()).padStart(2, "0");
    const mm = String(date.getMinutes()).padStart(2, "0");
    return `${date.getFullYear()}-yil ${date.getDate()}-${UZ_MONTHS[date.getMonth()] ?? ""}, ${hh}:${mm}`;
  }
  return new Intl.DateTimeFormat(INTL_LOCALE[lang], { dateStyle: "medium", timeStyle: "short" }).format(date);
}

const BYTE_UNITS = ["kilobyte", "megabyte", "gigabyte"] as const;

/** Decimal units as the language writes them: "2.5 MB", «2,5 МБ», "2,5 MB". */
export function formatBytes(bytes: number, lang: Lang): string {
  const locale = INTL_LOCALE[lang];
  if (bytes < 1000) {
    // Intl's English short unit is "byte" even for 500 of them.
    if (lang === "en") return `${new Intl.NumberFormat(locale).format(bytes)} B`;
    return new Intl.NumberFormat(locale, { style: "unit", unit: "byte" }).format(bytes);
  }
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  // One decimal where it tells something ("2.5 MB"), none where it is noise ("524 MB").
  const digits = value < 100 ? 1 : 0;
  return new Intl.NumberFormat(locale, { style: "unit", unit: BYTE_UNITS[unit], maximumFractionDigits: digits }).format(value);
}

/** Every byte counted: "2,000,001 B", «2 000 001 Б». */
export function formatExactBytes(bytes: number, lang: Lang): string {
  const locale = INTL_LOCALE[lang];
  if (lang === "en") return `${new Intl.NumberFormat(locale).format(bytes)} B`;
  return new Intl.NumberFormat(locale, { style: "unit", unit: "byte" }).format(bytes);
}

export function formatPercent(fraction: number, lang: Lang): string {
  return new Intl.NumberFormat(INTL_LOCALE[lang], { style: "percent", maximumFractionDigits: 0 }).format(fraction);
}

/**
 * The server names a session's device in English ("Firefox on Android", "Unknown device");
 * the names of browsers and systems are names, the words around them are translated.
 */
export function deviceName(device: string, t: (key: "acc.deviceOn" | "acc.unknownDevice", vars?: Record<string, string>) => string): string {
  if (device === "Unknown device") return t("acc.unknownDevice");
  const both = /^(.+) on (.+)$/.exec(device);
  return both ? t("acc.deviceOn", { browser: both[1] ?? "", system: both[2] ?? "" }) : device;
}

const EN_ORDINAL: Record<string, string> = { one: "st", two: "nd", few: "rd", other: "th" };

/** 3 → "3rd" in English; the bare number elsewhere (the sentence carries the suffix). */
export function ordinal(n: number, lang: Lang): string {
  if (lang !== "en") return String(n);
  return `${n}${EN_ORDINAL[new Intl.PluralRules("en", { type: "ordinal" }).select(n)] ?? "th"}`;
}

type DurationKey = "time.minutes" | "time.hoursMinutes";

/** A rough time to wait, a minute or more: "2 min", "1 h 5 min". */
export function formatDuration(seconds: number, t: (key: DurationKey, vars?: Record<string, number>) => string): string {
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes < 60) return t("time.minutes", { n: minutes });
  return t("time.hoursMinutes", { h: Math.floor(minutes / 60), m: minutes % 60 });
}
