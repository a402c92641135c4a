import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scan } from '../../src/secrets/scan.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/**
 * secretlint's Anthropic rule documents one real-shaped example key in its source comments.
 * It is indistinguishable from a live key, so finding it is correct; it is the only expected hit.
 */
const SCANNER_EXAMPLE = 'node_modules/@secretlint/secretlint-rule-anthropic/';

describe('the project node_modules as a corpus', () => {
  it('yields no false positive across thousands of real files', { timeout: 60_000 }, async () => {
    const result = await scan({ cwd: root, paths: ['node_modules'], git: false });
    expect(result.files).toBeGreaterThan(5_000);
    expect(result.bytes).toBeGreaterThan(100_000_000);
    const unexpected = result.findings.filter((finding) => !finding.path.startsWith(SCANNER_EXAMPLE));
    expect(unexpected).toEqual([]);
    const example = result.findings.filter((finding) => finding.path.startsWith(SCANNER_EXAMPLE));
    expect(example.map((f) => f.hint)).toContain('sk-ant-api03-…RgAA');
    expect(new Set(example.map((f) => f.rule))).toEqual(new Set(['anthropic-api-key']));
  });
});
