import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { generateVirtualKey } from '../../src/keys/format.js';
import { createLogger, redactKeys, requestLogWriter } from '../../src/server/logger.js';

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

describe('request log lines', () => {
  it('have the shape of the logger lines, are redacted, and follow the level', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger('info', sink);
    const write = requestLogWriter(logger);
    const key = generateVirtualKey();
    write(
      JSON.stringify({
        requestId: 'req_1',
        status: 200,
        key: `x ${key}`,
        usage: { input_tokens: 3 },
        skipped: undefined,
      }),
    );
    logger.info({ requestId: 'req_2' }, 'request');
    await new Promise((resolve) => setImmediate(resolve));
    // Both lines come in one write (one event-loop turn), in the order they were written.
    expect(lines).toHaveLength(1);
    const [ours, pinos] = lines[0]!
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(Object.keys(ours!)).toEqual(['level', 'time', 'requestId', 'status', 'key', 'usage', 'msg']);
    expect(Object.keys(pinos!)).toEqual(['level', 'time', 'requestId', 'msg']);
    expect(ours).toMatchObject({ level: 'info', msg: 'request', usage: { input_tokens: 3 } });
    expect(Date.parse(ours!.time as string)).not.toBeNaN();
    expect(lines[0]).not.toContain(key);
    expect(lines[0]!.endsWith('\n')).toBe(true);

    logger.level = 'warn';
    write(JSON.stringify({ requestId: 'req_3' }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toHaveLength(1);
  });
});
