import type { MessageKey, Translate } from "../i18n";
import type { Lang } from "../i18n/lang";

/** A language's name as a word of the UI's own language ("Uzbek", «узбекский», "oʻzbek"). */
const LANGUAGE_WORDS: Record<string, MessageKey> = { uz: "language.uz", ru: "language.ru", en: "language.en" };

/**
 * The word for a recording's language in a sentence of the UI: ours for the three the UI
 * knows, the browser's (Intl) for any other the model heard ("Turkish", «турецкий»).
 */
export function languageWord(code: string, t: Translate, lang: Lang): string {
  const key = LANGUAGE_WORDS[code];
  if (key) return t(key);
  try {
    return new Intl.DisplayNames([lang], { type: "language" }).of(code) ?? code.toUpperCase();
  } catch {
    return code.toUpperCase();
  }
}
