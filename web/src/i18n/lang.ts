/** The UI language: uz (Latin) by default, remembered per browser. */
export type Lang = "uz" | "ru" | "en";
export const LANGS: readonly Lang[] = ["uz", "ru", "en"];
const STORAGE_KEY = "ovoz.lang";

function isLang(value: unknown): value is Lang {
  return typeof value === "string" && (LANGS as readonly string[]).includes(value);
}

/** First visit: the first of the browser's languages we speak; Uzbek otherwise. */
export function detectLang(preferred: readonly string[]): Lang {
  for (const tag of preferred) {
    const base = tag.toLowerCase().split("-")[0];
    if (isLang(base)) return base;
  }
  return "uz";
}

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (isLang(saved)) return saved;
  } catch {
    // Storage disabled: fall through to the browser's languages.
  }
  if (typeof navigator === "undefined") return "uz";
  return detectLang(navigator.languages?.length ? navigator.languages : [navigator.language]);
}

let lang: Lang = initialLang();
const listeners = new Set<() => void>();

function applyToDocument(): void {
  if (typeof document !== "undefined") document.documentElement.lang = lang;
}
applyToDocument();

export function currentLang(): Lang {
  return lang;
}

export function setLang(next: Lang): void {
  if (next === lang) return;
  lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Not remembered, still switched.
  }
  applyToDocument();
  for (const listener of listeners) listener();
}

export function subscribeLang(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
