import type { en } from "./en";

/** Every string the UI shows has a key in the English dictionary. */
export type MessageKey = keyof typeof en;
/** A dictionary: all keys, nothing else (a missing or extra key is a compile error). */
export type Dictionary = { readonly [K in MessageKey]: string };
