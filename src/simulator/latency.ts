/** Time to first token and generation speed. */
export interface LatencyProfile {
  ttftMs: number;
  tokensPerSecond: number;
}

export type LatencyOption = 'none' | 'realistic' | LatencyProfile;

/** The demo profile: rough public figures, faster for small models, slower for large ones. */
const realistic: Record<string, LatencyProfile> = {
  haiku: { ttftMs: 300, tokensPerSecond: 120 },
  sonnet: { ttftMs: 400, tokensPerSecond: 60 },
  opus: { ttftMs: 600, tokensPerSecond: 40 },
  fable: { ttftMs: 700, tokensPerSecond: 35 },
  mythos: { ttftMs: 700, tokensPerSecond: 35 },
};

/** The profile for a model class, or undefined for no added latency. */
export function latencyFor(
  option: LatencyOption | undefined,
  modelClass: string,
): LatencyProfile | undefined {
  if (!option || option === 'none') return undefined;
  if (option === 'realistic') return realistic[modelClass] ?? realistic.sonnet;
  return option;
}

/** How long generating `tokens` takes, after the first token. */
export function generationMs(profile: LatencyProfile, tokens: number): number {
  return profile.tokensPerSecond > 0 ? (tokens / profile.tokensPerSecond) * 1000 : 0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
