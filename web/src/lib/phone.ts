/**
 * Phone numbers as people type them: Uzbek numbers by default (+998 90 123 45 67), other
 * countries accepted. The server does the real validation (libphonenumber).
 */
export const DEFAULT_PREFIX = "+998 ";
const MAX_DIGITS = 15;

// Country code → digit groups of the national number. Others are left ungrouped.
const GROUPS: Record<string, number[]> = {
  "998": [2, 3, 2, 2],
  "992": [2, 3, 2, 2],
  "996": [3, 3, 3],
  "7": [3, 3, 2, 2],
  "1": [3, 3, 4],
};

function splitCountry(digits: string): [string, string] {
  for (const code of ["998", "992", "996", "7", "1"]) {
    if (digits.startsWith(code)) return [code, digits.slice(code.length)];
  }
  return ["", digits];
}

/** The digits of a number, with +998 assumed for a local Uzbek number without a "+". */
export function phoneDigits(raw: string): string {
  const international = raw.trim().startsWith("+");
  let digits = raw.replace(/\D/g, "");
  if (!international && digits.length > 0 && !digits.startsWith("998")) {
    digits = `998${digits.replace(/^0+/, "")}`;
  }
  return digits.slice(0, MAX_DIGITS);
}

/** "+998 90 123 45 67", formatted as far as it is typed. */
export function formatPhone(raw: string): string {
  const digits = phoneDigits(raw);
  if (!digits) return raw.trim().startsWith("+") ? "+" : "";
  const [code, national] = splitCountry(digits);
  if (!code) return `+${digits}`;
  const groups = GROUPS[code] ?? [];
  const parts: string[] = [];
  let rest = national;
  for (const size of groups) {
    if (!rest) break;
    parts.push(rest.slice(0, size));
    rest = rest.slice(size);
  }
  if (rest) parts.push(rest);
  return [`+${code}`, ...parts].join(" ");
}

/** What the API is sent: E.164 ("+998901234567"). */
export function toE164(raw: string): string {
  const digits = phoneDigits(raw);
  return digits ? `+${digits}` : "";
}

/**
 * The next value of the phone field after an edit. Deleting only a separator would put
 * it straight back, so that deletes the digit before it instead.
 */
export function nextPhoneValue(previous: string, typed: string): string {
  const formatted = formatPhone(typed);
  if (typed.length < previous.length && formatted === formatPhone(previous)) {
    const digits = phoneDigits(previous);
    return formatPhone(`+${digits.slice(0, -1)}`);
  }
  return formatted;
}
