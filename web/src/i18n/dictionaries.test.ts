import { describe, expect, it } from "vitest";
import { en } from "./en";
import { ru } from "./ru";
import { uz } from "./uz";
import { detectLang } from "./lang";
import { translate } from "./index";

// Strings that are rightly the same in every language.
const SAME_EVERYWHERE = new Set(["hist.system"]);

describe("dictionaries", () => {
  const keys = Object.keys(en).sort();

  it.each([
    ["uz", uz],
    ["ru", ru],
  ] as const)("%s has every key and no other", (_name, dict) => {
    expect(Object.keys(dict).sort()).toEqual(keys);
  });

  it.each([
    ["uz", uz],
    ["ru", ru],
  ] as const)("%s leaves no string in English", (_name, dict) => {
    const untranslated = keys.filter(
      (k) => !SAME_EVERYWHERE.has(k) && dict[k as keyof typeof en] === en[k as keyof typeof en],
    );
    expect(untranslated).toEqual([]);
  });

  it("writes oʻ and gʻ in Uzbek with the modifier letter, not an apostrophe", () => {
    const wrong = Object.entries(uz).filter(([, text]) => /[oOgG]['‘’`]/.test(text));
    expect(wrong).toEqual([]);
  });

  it("keeps the same placeholders in every language", () => {
    const names = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of keys) {
      const k = key as keyof typeof en;
      expect([key, names(uz[k])]).toEqual([key, names(en[k])]);
      expect([key, names(ru[k])]).toEqual([key, names(en[k])]);
    }
  });

  it("fills placeholders", () => {
    expect(translate("en", "library.range", { from: 1, to: 20, total: 57 })).toBe("1–20 of 57");
    expect(translate("ru", "library.range", { from: 1, to: 20, total: 57 })).toBe("1–20 из 57");
    expect(translate("uz", "library.range", { from: 1, to: 5, total: 5 })).toBe("1–5 / 5");
  });

  it("says a conflict came from elsewhere, not from another person (usually it is the same user)", () => {
    expect(en["edit.conflictTitle"]).toBe("This was changed elsewhere (another tab or device) since you started editing.");
    expect(ru["edit.conflictTitle"]).not.toMatch(/кто-то|другой человек/i);
    expect(uz["edit.conflictTitle"]).not.toMatch(/kishi/);
  });

  it("calls the space key by its Uzbek name", () => {
    expect(uz["rec.keys"]).toMatch(/^Boʻsh joy — /);
    expect(uz["rec.keys"]).not.toMatch(/Probel/);
  });
});

describe("first visit", () => {
  it("follows the browser's languages, Uzbek when none is ours", () => {
    expect(detectLang(["ru-RU", "en"])).toBe("ru");
    expect(detectLang(["de-DE", "en-US"])).toBe("en");
    expect(detectLang(["de-DE", "fr"])).toBe("uz");
    expect(detectLang(["uz-Latn-UZ"])).toBe("uz");
  });
});
