import { describe, expect, it } from "vitest";
import { formatPhone, nextPhoneValue, toE164 } from "./phone";

describe("phone numbers", () => {
  it("formats an Uzbek number as it is typed", () => {
    expect(formatPhone("+998 9")).toBe("+998 9");
    expect(formatPhone("+99890123")).toBe("+998 90 123");
    expect(formatPhone("+998901234567")).toBe("+998 90 123 45 67");
  });

  it("assumes +998 for a local number typed without a plus", () => {
    expect(formatPhone("90 123 45 67")).toBe("+998 90 123 45 67");
    expect(toE164("901234567")).toBe("+998901234567");
  });

  it("accepts other countries", () => {
    expect(formatPhone("+79123456789")).toBe("+7 912 345 67 89");
    expect(toE164("+44 7700 900123")).toBe("+447700900123");
    expect(formatPhone("+447700900123")).toBe("+447700900123");
  });

  it("stops at 15 digits", () => {
    expect(toE164("+99890123456789999")).toBe("+998901234567899");
  });

  it("deletes the digit before a separator when only the separator was deleted", () => {
    expect(nextPhoneValue("+998 90 1", "+998 901")).toBe("+998 90");
    expect(nextPhoneValue("+998 90", "+998 90 1")).toBe("+998 90 1");
  });
});
