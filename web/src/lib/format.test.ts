import { describe, expect, it } from "vitest";
import { formatClock, formatDateTime } from "./format";

describe("formatting", () => {
  it("spells Uzbek months whatever the browser's locale data", () => {
    expect(formatDateTime("2026-12-01T18:52:00", "uz")).toBe("1-dekabr, 2026, 18:52");
  });

  it("writes durations as m:ss or h:mm:ss", () => {
    expect(formatClock(65.2)).toBe("1:05");
    expect(formatClock(3725)).toBe("1:02:05");
    expect(formatClock(null)).toBe("–");
  });
});
