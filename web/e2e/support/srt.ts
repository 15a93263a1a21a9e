/**
 * A strict reader of SubRip (.srt): numbered cues from 1, "HH:MM:SS,mmm --> HH:MM:SS,mmm",
 * one or more lines of text, a blank line between cues. Anything else is an error.
 */
export interface Cue {
  index: number;
  start: number;
  end: number;
  text: string;
}

const TIME = /^(\d{2}):([0-5]\d):([0-5]\d),(\d{3}) --> (\d{2}):([0-5]\d):([0-5]\d),(\d{3})$/;

function seconds(h: string, m: string, s: string, ms: string): number {
  return Number(h) * 3600 + Number(m) * 60 + Number(s) + Number(ms) / 1000;
}

export function parseSrt(input: string): Cue[] {
  const text = input.replace(/^\uFEFF/, "").replace(/\r\n/g, "\n");
  if (!text.trim()) throw new Error("SRT: empty");
  const blocks = text.trim().split(/\n{2,}/);
  const cues: Cue[] = [];
  for (const [i, block] of blocks.entries()) {
    const lines = block.split("\n");
    const [number, timing, ...body] = lines;
    if (number !== String(i + 1)) throw new Error(`SRT cue ${i + 1}: number line is ${JSON.stringify(number)}`);
    const m = TIME.exec(timing ?? "");
    if (!m) throw new Error(`SRT cue ${i + 1}: bad timing line ${JSON.stringify(timing)}`);
    const [, h1, m1, s1, ms1, h2, m2, s2, ms2] = m as unknown as string[];
    const start = seconds(h1!, m1!, s1!, ms1!);
    const end = seconds(h2!, m2!, s2!, ms2!);
    if (end < start) throw new Error(`SRT cue ${i + 1}: ends (${end}) before it starts (${start})`);
    const previous = cues[cues.length - 1];
    if (previous && start < previous.start) throw new Error(`SRT cue ${i + 1}: starts before cue ${i}`);
    if (body.length === 0 || body.some((l) => !l.trim())) throw new Error(`SRT cue ${i + 1}: no text`);
    cues.push({ index: i + 1, start, end, text: body.join("\n") });
  }
  return cues;
}
