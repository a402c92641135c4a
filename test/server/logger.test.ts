import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { generateVirtualKey } from '../../src/keys/format.js';
import { createLogger, redactKeys } from '../../src/server/logger.js';

const upstreamKey = `sk-ant-api03-${'Ab9_-'.repeat(18)}abc` + 'AA';

describe('log redaction', () => {
  it('redacts Anthropic and Sluice keys in any field, message or nested object', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const virtualKey = generateVirtualKey();
    const logger = createLogger('info', sink);
    logger.info(
      { header: `Bearer ${virtualKey}`, nested: { k: upstreamKey } },
      `failed with ${upstreamKey},`,
    );
    logger.flush();
    await new Promise((resolve) => setImmediate(resolve));
    const text = lines.join('');
    expect(text).not.toContain(upstreamKey);
    expect(text).not.toContain(virtualKey);
    expect(text).toContain(`sk-ant-api03-…${upstreamKey.slice(-4)}`);
    expect(text).toContain(`sk-sluice-…${virtualKey.slice(-4)}`);
    expect(JSON.parse(lines[0]!).nested.k).toBe(`sk-ant-api03-…${upstreamKey.slice(-4)}`);
  });

  it('leaves ordinary text alone', () => {
    expect(redactKeys('sk-ant- is the prefix; sk-sluice-short')).toBe(
      'sk-ant- is the prefix; sk-sluice-short',
    );
  });
});
