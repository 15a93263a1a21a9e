import { describe, expect, it } from "vitest";
import { deviceName, displayName, formatBytes, formatClock, formatDateTime, formatExactBytes } from "./format";

describe("formatting", () => {
  it("spells Uzbek months whatever the browser's locale data", () => {
    expect(formatDateTime("2026-12-01T19:00:00", "uz")).toBe("2026-yil 1-dekabr, 19:00");
    expect(formatDateTime("2027-03-09T08:05:00", "uz")).toBe("2027-yil 9-mart, 08:05");
  });

  it("drops every bidi control from a file name, and nothing else", () => {
    const controls = "\u200E\u200F\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069";
    expect(displayName(`a${controls}b.mp3`)).toBe("ab.mp3");
    expect(displayName("\u202Egnp.exe")).toBe("gnp.exe");
    expect(displayName("Oʻzbek yozuvi — تسجيل 🎙.m4a")).toBe("Oʻzbek yozuvi — تسجيل 🎙.m4a");
  });

  it("writes sizes with the units of each language", () => {
    expect(formatBytes(2_500_000, "ru")).toMatch(/^2,5\sМБ$/);
    expect(formatBytes(2_500_000, "en")).toBe("2.5 MB");
    expect(formatBytes(2_500_000, "uz")).toBe("2,5 MB");
    expect(formatBytes(12_345_678, "en")).toBe("12.3 MB");
    expect(formatBytes(1_500, "ru")).toMatch(/^1,5\sкБ$/);
    expect(formatBytes(3_200_000_000, "en")).toBe("3.2 GB");
    expect(formatBytes(500, "en")).toBe("500 B");
    expect(formatBytes(524_288_000, "en")).toBe("524 MB");
    expect(formatBytes(2_000_001, "en")).toBe("2 MB");
  });

  it("writes durations as m:ss or h:mm:ss", () => {
    expect(formatClock(65.2)).toBe("1:05");
    expect(formatClock(3725)).toBe("1:02:05");
    expect(formatClock(null)).toBe("–");
  });
});

describe("formatExactBytes", () => {
  it("counts every byte where rounding would hide the difference", () => {
    expect(formatExactBytes(2_000_001, "en")).toBe("2,000,001 B");
    expect(formatExactBytes(2_000_000, "en")).toBe("2,000,000 B");
    expect(formatExactBytes(2_000_001, "en")).not.toBe(formatExactBytes(2_000_000, "en"));
  });
});

describe("deviceName", () => {
  const say =
    (pattern: string) =>
    (_key: string, vars?: Record<string, string>): string =>
      vars ? pattern.replace("{browser}", vars.browser ?? "").replace("{system}", vars.system ?? "") : "unknown";

  it("translates the words around the browser and system names", () => {
    expect(deviceName("Chrome on Linux", say("{browser} на {system}"))).toBe("Chrome на Linux");
    expect(deviceName("Yandex Browser on Android", say("{browser}, {system}"))).toBe("Yandex Browser, Android");
    expect(deviceName("Unknown device", say("x"))).toBe("unknown");
    expect(deviceName("curl 8.5.0", say("{browser} on {system}"))).toBe("curl 8.5.0");
  });
});
