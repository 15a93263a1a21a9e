import { describe, expect, it } from "vitest";
import { navigate, safeNext } from "./router";

describe("the page to go back to after sign-in", () => {
  it.each([
    ["/audio/a1?x=1#t", "/audio/a1?x=1#t"],
    ["/", "/"],
    [null, "/"],
    ["", "/"],
    ["https://evil.example/", "/"],
    ["//evil.example/", "/"],
    ["/\\evil.example/", "/"],
    ["/\t/evil.example", "/"],
    ["/\n/evil.example", "/"],
    ["\\\\evil.example", "/"],
    ["/signin?next=/", "/"],
    ["javascript:alert(1)", "/"],
  ])("%j → %j", (next, expected) => {
    expect(safeNext(next)).toBe(expected);
  });

  it("never hands replaceState a URL of another origin", () => {
    for (const raw of ["%2F%5Cevil.example%2F", "%2F%09%2Fevil.example"]) {
      const next = new URLSearchParams(`next=${raw}`).get("next");
      expect(() => navigate(safeNext(next), { replace: true })).not.toThrow();
      expect(window.location.origin + window.location.pathname).toBe(`${window.location.origin}/`);
    }
  });
});
