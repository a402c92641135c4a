import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { plural, runDemo } from '../../src/cli/demo.js';

describe('sluice demo', () => {
  it('prints the steps table under a title before the burst, with whole messages, costs and counts that add up', async () => {
    const chunks: string[] = [];
    const output = new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    await runDemo('none', output);
    const text = chunks.join('');
    const lines = text.split('\n');
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));

    const title = at(/^7 requests through the gateway, one of each kind:$/);
    const header = at(/^step\s+model\s+status\s+tokens\s+cost\s+ms\s+note$/);
    const burst = at(/^Sending a burst of 60 requests at once/);
    const burstResult = at(/^Burst: 60\/60 succeeded/);
    const ledger = at(/^Ledger: /);
    expect(title).toBeGreaterThan(0);
    expect([title < header, header < burst, burst < burstResult, burstResult < ledger]).toEqual([
      true,
      true,
      true,
      true,
    ]);

    const row = (step: string) => lines.find((line) => line.startsWith(`${step}  `)) ?? '';
    // The refusal's own message, whole, not the SDK's "400 {json" cut at 60 characters.
    expect(row('over the key cap')).toMatch(/400 .*max_tokens: 4096 is above this key's cap of 512$/);
    for (const step of ['plain request', 'streaming', 'tool call', 'auto: small talk'])
      expect(row(step), step).toMatch(/ \$0\.\d{6,} /);

    // Rows recorded = requests sent + the 429s the SDK retried, said in those words.
    const refused = Number(/(\d+) requests? would have waited past/.exec(text)?.[1] ?? 0);
    const rows = Number(/^Ledger: (\d+) rows?/m.exec(text)?.[1]);
    expect(rows).toBe(67 + refused);
    if (refused > 0)
      expect(lines[ledger]).toContain(`the 67 requests sent, and the ${plural(refused, 'attempt')}`);
    expect(text).not.toMatch(/\b1 (requests|rows|attempts)\b/);
  }, 120_000);

  it('says 1 request, 2 requests', () => {
    expect([plural(1, 'request'), plural(2, 'request'), plural(0, 'row')]).toEqual([
      '1 request',
      '2 requests',
      '0 rows',
    ]);
  });
});
