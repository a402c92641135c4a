import { z } from 'zod';

/**
 * Settings of the runaway guards (docs/limits.md): per session and per key, a ceiling on
 * requests per minute, tokens per minute and spend per hour. Tripping one answers 429 until the
 * window has slid far enough to be under the ceiling again.
 */
const positiveInt = z.number().int().positive();
/** USD as a number or a decimal string (`20`, `"2.50"`). */
const usd = z
  .union([
    z.number().positive(),
    z.string().regex(/^\d+(\.\d{1,12})?$/, 'a USD amount such as "20" or "2.50"'),
  ])
  .transform((value) => String(value));

export const guardLimitsSchema = z.strictObject({
  /** Requests in any 60 s. */
  rpm: positiveInt.optional(),
  /** Tokens in any 60 s: input, cache writes and output (cache reads are left to the spend ceiling). */
  tpm: positiveInt.optional(),
  /** Spend in any hour, USD. */
  usdPerHour: usd.optional(),
});
export type GuardLimits = z.infer<typeof guardLimitsSchema>;

/**
 * Defaults for interactive coding. A developer drives a Claude Code session: each turn is one
 * request per tool round trip, and a round trip waits for the model (seconds) and the tool
 * (seconds more), so a busy session with parallel subagents makes 10–40 requests a minute.
 * 120 a minute (2 a second, sustained for a minute) is three times that, and the runaway seen in
 * issue 17 (47 a second) trips it within three seconds. Each request brings 2–20k new tokens
 * (the rest of the context is cache reads): 40 × 20k ≈ 800k tokens a minute at the busiest,
 * under the 1M ceiling. An Opus session that busy costs a few dollars an hour; $20 in an hour
 * is well above it and still stops a loop before it burns a day's budget. A key (a developer)
 * runs a few sessions at once, so its ceilings are 2.5× a session's.
 */
export const DEFAULT_RUNAWAY = {
  session: { rpm: 120, tpm: 1_000_000, usdPerHour: '20' },
  key: { rpm: 300, tpm: 2_500_000, usdPerHour: '50' },
} as const;

export const runawayConfigSchema = z.strictObject({
  /** false: no runaway guard anywhere (a key's own `guards` still apply unless it says `off`). */
  enabled: z.boolean().default(true),
  /** Each Claude Code session (`x-claude-code-session-id`, else the session in `metadata.user_id`). */
  session: guardLimitsSchema.default(DEFAULT_RUNAWAY.session),
  /** Each key of a developer (keys made for people: `--developer`); other keys only when `allKeys`. */
  key: guardLimitsSchema.default(DEFAULT_RUNAWAY.key),
  /** Apply the key ceilings to every key, not only developers' keys. */
  allKeys: z.boolean().default(false),
});
export type RunawayConfig = z.infer<typeof runawayConfigSchema>;

/** What a key may say of its own guards (`sluice keys … --guard`): ceilings over the defaults, or off. */
export const keyGuardsSchema = z.strictObject({
  off: z.boolean().optional(),
  session: guardLimitsSchema.optional(),
  key: guardLimitsSchema.optional(),
});
export type KeyGuards = z.infer<typeof keyGuardsSchema>;

const FIELDS: Record<string, keyof GuardLimits> = { rpm: 'rpm', tpm: 'tpm', usd_per_hour: 'usdPerHour' };

/**
 * Parses `--guard` text: `off`, or `scope.field=value` pairs joined by commas, e.g.
 * `session.rpm=60,key.usd_per_hour=30`.
 */
export function parseGuardSpec(spec: string): KeyGuards {
  const text = spec.trim();
  if (text === 'off') return { off: true };
  const guards: KeyGuards = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^(session|key)\.(rpm|tpm|usd_per_hour)=(.+)$/.exec(part);
    if (!match)
      throw new Error(
        `--guard: "${part}" is not scope.field=value (scope session or key; field rpm, tpm or usd_per_hour), or "off"`,
      );
    const scope = match[1] as 'session' | 'key';
    const field = FIELDS[match[2]!]!;
    const raw = match[3]!.trim();
    const value = field === 'usdPerHour' ? raw : Number(raw);
    guards[scope] = { ...guards[scope], [field]: value };
  }
  const parsed = keyGuardsSchema.safeParse(guards);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`--guard: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

/** Reads `SLUICE_RUNAWAY` (`off`) and `SLUICE_RUNAWAY_{SESSION,KEY}_{RPM,TPM,USD_PER_HOUR}` over the file's section. */
export function runawayFromEnvironment(section: unknown, env: NodeJS.ProcessEnv): RunawayConfig {
  const base = (typeof section === 'object' && section !== null ? section : {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...base };
  if (env.SLUICE_RUNAWAY === 'off') merged.enabled = false;
  else if (env.SLUICE_RUNAWAY === 'on') merged.enabled = true;
  for (const scope of ['session', 'key'] as const) {
    const limits = { ...DEFAULT_RUNAWAY[scope], ...((base[scope] as object | undefined) ?? {}) } as Record<
      string,
      unknown
    >;
    for (const [suffix, field] of [
      ['RPM', 'rpm'],
      ['TPM', 'tpm'],
      ['USD_PER_HOUR', 'usdPerHour'],
    ] as const) {
      const variable = `SLUICE_RUNAWAY_${scope.toUpperCase()}_${suffix}`;
      const raw = env[variable];
      if (raw === undefined || raw === '') continue;
      if (field !== 'usdPerHour' && !/^\d+$/.test(raw.trim()))
        throw new Error(`${variable}: "${raw}" is not a whole number`);
      limits[field] = field === 'usdPerHour' ? raw.trim() : Number(raw.trim());
    }
    merged[scope] = limits;
  }
  const parsed = runawayConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`limits.runaway.${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
