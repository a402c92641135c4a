import { readFile, writeFile } from 'node:fs/promises';
import type { Finding } from './finding.js';

/** Findings accepted as known: their fingerprints, with enough context to review them. */
export interface BaselineFile {
  version: 1;
  findings: Array<{ fingerprint: string; rule: string; path: string; hint: string }>;
}

export const DEFAULT_BASELINE = '.sluice-baseline.json';

/** The accepted fingerprints; a missing file is an empty baseline. */
export async function readBaseline(path: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
    throw error;
  }
  // An empty file (`--baseline /dev/null`) accepts nothing.
  if (text.trim() === '') return new Set();
  let parsed: Partial<BaselineFile>;
  try {
    parsed = JSON.parse(text) as Partial<BaselineFile>;
  } catch {
    throw new Error(`${path}: not JSON, so not a sluice baseline (expected {"version":1,"findings":[…]})`);
  }
  if (parsed.version !== 1 || !Array.isArray(parsed.findings)) {
    throw new Error(`${path}: not a sluice baseline (expected {"version":1,"findings":[…]})`);
  }
  return new Set(parsed.findings.map((entry) => entry.fingerprint));
}

export async function writeBaseline(path: string, findings: Finding[]): Promise<void> {
  const unique = new Map(findings.map((f) => [f.fingerprint, f]));
  const file: BaselineFile = {
    version: 1,
    findings: [...unique.values()]
      .map(({ fingerprint, rule, path: file, hint }) => ({ fingerprint, rule, path: file, hint }))
      .sort((a, b) => a.path.localeCompare(b.path) || a.fingerprint.localeCompare(b.fingerprint)),
  };
  await writeFile(path, `${JSON.stringify(file, null, 2)}\n`);
}
