import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ManualClock, type Simulator } from '../../src/simulator/index.js';
import { send, simulator, userMessage } from './helpers.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ORG_HEADER = 'anthropic-organization-id';

const requests = (n: number, extra: Record<string, unknown> = {}) =>
  Array.from({ length: n }, (_, i) => ({ custom_id: `r-${i}`, params: userMessage(`question ${i}`, extra) }));

async function started(timing = { processingMs: 10 * MINUTE, cancelMs: 30_000 }) {
  const clock = new ManualClock(Date.parse('2026-11-27T12:00:00Z'));
  const sim = await simulator({ clock, batches: timing });
  return { sim, clock };
}

async function create(sim: Simulator, body: unknown) {
  return send(sim, '/v1/messages/batches', body);
}

describe('simulated Message Batches', () => {
  it('processes on the simulator clock and gives the results as JSONL, some errored by faults', async () => {
    const { sim, clock } = await started();
    sim.batchFaults.script([
      { kind: 'delay', ms: 0 },
      { status: 529, type: 'overloaded_error' },
    ]);
    const created = await create(sim, { requests: requests(4) });
    expect(created.status).toBe(200);
    expect(created.headers.get(ORG_HEADER)).toMatch(/^[0-9a-f-]{36}$/);
    const batch = created.json;
    expect(batch).toMatchObject({
      type: 'message_batch',
      processing_status: 'in_progress',
      request_counts: { processing: 4, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
      created_at: '2026-11-27T12:00:00.000Z',
      expires_at: '2026-11-28T12:00:00.000Z',
      ended_at: null,
      results_url: null,
    });
    clock.advance(5 * MINUTE); // half the processing time: half the requests
    expect((await send(sim, `/v1/messages/batches/${batch.id}`)).json.request_counts).toMatchObject({
      processing: 2,
      succeeded: 1,
      errored: 1,
    });
    expect((await send(sim, `/v1/messages/batches/${batch.id}/results`)).status).toBe(400);
    clock.advance(5 * MINUTE);
    const ended = (await send(sim, `/v1/messages/batches/${batch.id}`)).json;
    expect(ended).toMatchObject({
      processing_status: 'ended',
      request_counts: { processing: 0, succeeded: 3, errored: 1 },
      ended_at: '2026-11-27T12:10:00.000Z',
    });
    expect(ended.results_url).toMatch(new RegExp(`/v1/messages/batches/${batch.id}/results$`));
    const results = await send(sim, `/v1/messages/batches/${batch.id}/results`);
    expect(results.headers.get(ORG_HEADER)).toBeTruthy();
    const lines = results.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.map((l) => l.custom_id)).toEqual(['r-0', 'r-1', 'r-2', 'r-3']);
    expect(lines[1].result).toEqual({
      type: 'errored',
      error: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    });
    expect(lines[0].result.type).toBe('succeeded');
    expect(lines[0].result.message.usage.service_tier).toBe('batch');
  });

  it('cancels: canceling, then ended with the unprocessed requests canceled; deletes only ended batches', async () => {
    const { sim, clock } = await started();
    const batch = (await create(sim, { requests: requests(10) })).json;
    clock.advance(3 * MINUTE);
    const canceling = await send(sim, `/v1/messages/batches/${batch.id}/cancel`, undefined, {
      method: 'POST',
    });
    expect(canceling.json).toMatchObject({
      processing_status: 'canceling',
      cancel_initiated_at: '2026-11-27T12:03:00.000Z',
    });
    const early = await send(sim, `/v1/messages/batches/${batch.id}`, undefined, { method: 'DELETE' });
    expect(early.status).toBe(400);
    expect(early.json.error.message).toMatch(/still canceling/);
    clock.advance(30_000);
    const ended = (await send(sim, `/v1/messages/batches/${batch.id}`)).json;
    expect(ended.processing_status).toBe('ended');
    expect(ended.request_counts).toEqual({
      processing: 0,
      succeeded: 3,
      errored: 0,
      canceled: 7,
      expired: 0,
    });
    const deleted = await send(sim, `/v1/messages/batches/${batch.id}`, undefined, { method: 'DELETE' });
    expect(deleted.json).toEqual({ id: batch.id, type: 'message_batch_deleted' });
    expect((await send(sim, `/v1/messages/batches/${batch.id}`)).status).toBe(404);
  });

  it('expires what is not processed after 24 hours, and keeps results 29 days', async () => {
    const { sim, clock } = await started({ processingMs: 48 * HOUR, cancelMs: 30_000 });
    const batch = (await create(sim, { requests: requests(4) })).json;
    clock.advance(DAY + MINUTE);
    const ended = (await send(sim, `/v1/messages/batches/${batch.id}`)).json;
    expect(ended).toMatchObject({
      processing_status: 'ended',
      ended_at: '2026-11-28T12:00:00.000Z',
      request_counts: { succeeded: 2, expired: 2 },
    });
    clock.advance(27 * DAY); // 28 days old: results still there
    expect((await send(sim, `/v1/messages/batches/${batch.id}/results`)).status).toBe(200);
    clock.advance(DAY);
    const archived = (await send(sim, `/v1/messages/batches/${batch.id}`)).json;
    expect(archived).toMatchObject({ archived_at: '2026-12-26T12:00:00.000Z', results_url: null });
    expect((await send(sim, `/v1/messages/batches/${batch.id}/results`)).status).toBe(404);
  });

  it('lists newest first with limit and after_id', async () => {
    const { sim } = await started();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await create(sim, { requests: requests(1) })).json.id);
    const first = (await send(sim, '/v1/messages/batches?limit=2')).json;
    expect(first.data.map((b: { id: string }) => b.id)).toEqual([ids[2], ids[1]]);
    expect(first).toMatchObject({ has_more: true, first_id: ids[2], last_id: ids[1] });
    const next = (await send(sim, `/v1/messages/batches?limit=2&after_id=${ids[1]}`)).json;
    expect(next.data.map((b: { id: string }) => b.id)).toEqual([ids[0]]);
    expect(next.has_more).toBe(false);
  });

  it('refuses what the reference refuses at creation: custom_id, duplicates, stream, speed, max_tokens 0, size', async () => {
    const { sim } = await started();
    const refusals: Array<[unknown, number, RegExp]> = [
      [{ requests: [] }, 400, /at least 1/],
      [
        { requests: [{ custom_id: 'has space', params: userMessage('x') }] },
        400,
        /custom_id: String should match/,
      ],
      [{ requests: [{ custom_id: 'x'.repeat(65), params: userMessage('x') }] }, 400, /custom_id/],
      [
        {
          requests: [
            { custom_id: 'a', params: userMessage('x') },
            { custom_id: 'a', params: userMessage('y') },
          ],
        },
        400,
        /Duplicate custom_id/,
      ],
      [{ requests: requests(1, { stream: true }) }, 400, /params\.stream/],
      [{ requests: requests(1, { speed: 'fast' }) }, 400, /params\.speed/],
      [{ requests: requests(1, { max_tokens: 0 }) }, 400, /params\.max_tokens/],
    ];
    for (const [body, status, message] of refusals) {
      const answer = await create(sim, body);
      expect(answer.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(answer.json.error.message).toMatch(message);
    }
    const tooMany = await create(sim, {
      requests: Array.from({ length: 100_001 }, (_, i) => ({ custom_id: `c${i}`, params: {} })),
    });
    expect(tooMany.status).toBe(413);
    expect(tooMany.json.error.type).toBe('request_too_large');
    // A body declared above 256 MB is refused before it is read.
    const declared = await new Promise<number>((resolve, reject) => {
      const req = request(`${sim.url}/v1/messages/batches`, {
        method: 'POST',
        headers: {
          'x-api-key': 'sk-ant-api03-simulator-test-key',
          'anthropic-version': '2023-06-01',
          'content-type': 'application/json',
          'content-length': String(256 * 1024 * 1024 + 1),
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"requests":[');
    });
    expect(declared).toBe(413);
    // Anything else is checked when the request is processed: an errored result, not a refusal.
    const unknownModel = await create(sim, { requests: requests(1, { model: 'claude-nope-1' }) });
    expect(unknownModel.status).toBe(200);
  });
});
