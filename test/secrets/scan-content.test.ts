import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanBuffer, scanFile } from '../../src/secrets/scan-content.js';
import { fakeKey } from '../fixtures/secrets/fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-content-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scanning content', () => {
  it('gives 1-based line and column', () => {
    const key = fakeKey('api', 'lines');
    const [finding] = scanBuffer(Buffer.from(`a\nb\n  é=${key}\n`), { path: 'x' });
    expect(finding).toMatchObject({ line: 3, column: 5, path: 'x', rule: 'anthropic-api-key' });
  });

  it('skips a line carrying sluice:allow and keeps the others', () => {
    const allowed = fakeKey('api', 'allowed');
    const kept = fakeKey('admin', 'kept');
    const text = `TEST_KEY=${allowed} # sluice:allow test fixture\nPROD=${kept}\n`;
    const findings = scanBuffer(Buffer.from(text), { path: 'x' });
    expect(findings.map((f) => [f.rule, f.line])).toEqual([['anthropic-admin-key', 2]]);
  });

  it('streams a large file in chunks and finds keys that straddle chunk boundaries', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => fakeKey('api', `chunk:${i}`));
    const lines: string[] = [];
    keys.forEach((key, i) => {
      lines.push('x'.repeat(37 + i * 13), `k=${key}`);
    });
    const path = join(dir, 'large.txt');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const whole = (await scanFile(path, { path: 'large.txt' }))!;
    for (const chunkSize of [97, 500, 1024]) {
      const chunked = (await scanFile(path, { path: 'large.txt' }, { wholeFileLimit: 0, chunkSize }))!;
      expect(chunked.findings).toEqual(whole.findings);
    }
    expect(whole.findings.map((f) => f.line)).toEqual(keys.map((_, i) => 2 * i + 2));
    expect(whole.findings.map((f) => f.hint)).toEqual(keys.map((key) => `sk-ant-api03-…${key.slice(-4)}`));
  });
});
