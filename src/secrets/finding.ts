import { createHash } from 'node:crypto';
import type { KeyRule } from './shapes.js';

export type Rule = KeyRule | 'public-env-exposure' | 'env-file-committable';

export type Verification = 'live' | 'dead' | 'unknown';

/** One reported problem. It carries a masked hint, never the secret itself. */
export interface Finding {
  rule: Rule;
  path: string;
  /** 1-based; 0 for findings about a whole file. */
  line: number;
  column: number;
  /** Set when the finding comes from a commit in history. */
  commit?: string;
  /** What is shown: a key's prefix and last four characters, or a variable or file name. */
  hint: string;
  /** Stable identity for baselines: independent of line numbers, so edits elsewhere keep it. */
  fingerprint: string;
  verification?: Verification;
}

export const RULE_DESCRIPTIONS: Record<Rule, string> = {
  'anthropic-api-key': 'Anthropic API key',
  'anthropic-admin-key': 'Anthropic Admin API key',
  'anthropic-oauth-token': 'Anthropic OAuth token',
  'sluice-virtual-key': 'Sluice virtual key',
  'public-env-exposure': 'Anthropic credential in a variable a front-end bundler ships to browsers',
  'env-file-committable': '.env file that git would commit',
};

// Secrets stay out of the finding object, so no serializer can print them by accident.
const secrets = new WeakMap<Finding, string>();

export function fingerprintOf(rule: Rule, path: string, value: string): string {
  return createHash('sha256').update(`${rule}\0${path}\0${value}`).digest('hex').slice(0, 32);
}

export function makeFinding(fields: Omit<Finding, 'fingerprint'>, value: string, secret?: string): Finding {
  const finding: Finding = { ...fields, fingerprint: fingerprintOf(fields.rule, fields.path, value) };
  if (secret !== undefined) secrets.set(finding, secret);
  return finding;
}

/** The key behind a finding, for `--verify` only. */
export function secretOf(finding: Finding): string | undefined {
  return secrets.get(finding);
}
