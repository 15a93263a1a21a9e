import { useSyncExternalStore } from "react";
import { en } from "./en";
import { ru } from "./ru";
import { uz } from "./uz";
import { currentLang, subscribeLang, type Lang } from "./lang";
import type { Dictionary, MessageKey } from "./types";

export type { Lang } from "./lang";
export type { MessageKey } from "./types";
export const dictionaries: Record<Lang, Dictionary> = { uz, ru, en };

export type Vars = Record<string, string | number>;
export type Translate = (key: MessageKey, vars?: Vars) => string;

export function translate(lang: Lang, key: MessageKey, vars?: Vars): string {
  const template = dictionaries[lang][key];
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = vars[name];
    return value === undefined ? whole : String(value);
  });
}

export function useLang(): Lang {
  return useSyncExternalStore(subscribeLang, currentLang, currentLang);
}

export function useT(): Translate {
  const lang = useLang();
  return (key, vars) => translate(lang, key, vars);
}
