import { describe, expect, it } from "vitest";
import { displayName, formatClock, formatDateTime } from "./format";

describe("formatting", () => {
  it("spells Uzbek months whatever the browser's locale data", () => {
    expect(formatDateTime("2026-12-01T18:52:00", "uz")).toBe("1-dekabr, 2026, 18:52");
  });

  it("drops every bidi control from a file name, and nothing else", () => {
    const controls = "\u200E\u200F\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069";
    expect(displayName(`a${controls}b.mp3`)).toBe("ab.mp3");
    expect(displayName("\u202Egnp.exe")).toBe("gnp.exe");
    expect(displayName("Oʻzbek yozuvi — تسجيل 🎙.m4a")).toBe("Oʻzbek yozuvi — تسجيل 🎙.m4a");
  });

  it("writes durations as m:ss or h:mm:ss", () => {
    expect(formatClock(65.2)).toBe("1:05");
    expect(formatClock(3725)).toBe("1:02:05");
    expect(formatClock(null)).toBe("–");
  });
});
