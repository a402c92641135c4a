import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { expect, it } from 'vitest';
import { openStore } from '../../src/store/database.js';
import { startStack } from '../helpers/stack.js';

const body = (stream: boolean) =>
  JSON.stringify({
    model: 'claude-haiku-4-5',
    max_tokens: 64,
    stream,
    messages: [{ role: 'user', content: 'Tell me a long story' }],
  });

it('records every request cut at the drain deadline, streams with their status and the usage seen', async () => {
  const databaseUrl = `sqlite:${join(mkdtempSync(join(tmpdir(), 'sluice-drain-')), 'ledger.db')}`;
  // Streams last ~6 s; the gateway waits 300 ms for them, then cuts them.
  const stack = await startStack({
    databaseUrl,
    drainMs: 300,
    simulator: { latency: { ttftMs: 20, tokensPerSecond: 5 }, outputTokens: 30 },
    yaml: { limits: { enabled: false } },
  });
  const ask = (stream: boolean) =>
    request(`${stack.gateway.url}/v1/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        'x-api-key': stack.key,
      },
      body: body(stream),
    });
  const streams = await Promise.all(Array.from({ length: 12 }, () => ask(true)));
  // Each stream has sent its head and its first events (message_start carries the input tokens).
  const read = streams.map(async (response) => {
    expect(response.statusCode).toBe(200);
    let text = '';
    try {
      for await (const chunk of response.body) text += chunk;
    } catch {
      // cut: the text so far is what the client got
    }
    return text;
  });
  const whole = Array.from({ length: 4 }, () =>
    ask(false).then((r) => ({ status: r.statusCode, text: r.body.text() })),
  );
  await new Promise((resolve) => setTimeout(resolve, 400));
  const answered = await stack.gateway.inFlight();
  expect(answered).toBe(16);

  await stack.close();
  const texts = await Promise.all(read);
  for (const text of texts) {
    expect(text).toContain('event: message_start');
    expect(text).toContain('event: error');
    expect(text).not.toContain('event: message_stop');
  }
  for (const answer of await Promise.all(whole)) {
    expect(answer.status).toBe(503);
    expect(JSON.parse(await answer.text)).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error' },
    });
  }

  const store = await openStore(databaseUrl);
  const rows = await store.db
    .selectFrom('ledger')
    .select(['status', 'input_tokens', 'output_tokens'])
    .execute();
  await store.close();
  expect(rows).toHaveLength(16);
  const streamed = rows.filter((row) => row.status === 200);
  expect(streamed).toHaveLength(12);
  for (const row of streamed) expect(row.input_tokens).toBeGreaterThan(0);
  expect(rows.filter((row) => row.status === 503)).toHaveLength(4);
}, 30_000);
