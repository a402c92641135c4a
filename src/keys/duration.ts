const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses durations such as `90d`, `12h`, `30m`, `45s`, `2w` into milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration: use a number and a unit, e.g. 90d, 12h, 30m`);
  return Number(match[1]) * UNITS[match[2]!]!;
}
