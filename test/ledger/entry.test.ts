import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { costOf } from '../../src/catalog/cost.js';
import { entryFromCall, toLedgerRow } from '../../src/ledger/entry.js';
import { CallSignal } from '../../src/pipeline/signal.js';
import type { Call } from '../../src/pipeline/types.js';

function finishedCall(fields: Partial<Call>): Call {
  return {
    id: 'req_sluice_1',
    receivedAt: 1000,
    startedAtMs: Date.UTC(2026, 8, 1, 9),
    path: '/v1/messages',
    headers: {},
    body: { model: 'claude-sonnet-5', max_tokens: 100, messages: [], inference_geo: 'us' },
    rawBody: Buffer.from(''),
    bodyChanged: false,
    signal: new CallSignal(),
    principal: { keyId: 'key_1', name: 'prod-app-v1', environment: 'production' },
    requestedModel: 'sluice-reasoning',
    model: defaultCatalog().model('claude-sonnet-5'),
    route: { tier: 'reasoning', score: 0.61, reasons: ['code block', 'long prompt'], source: 'classifier' },
    priority: 'interactive',
    upstream: { status: 200, attempts: 3, requestId: 'req_upstream' },
    firstByteAt: 1250.4,
    finishedAt: 1900.6,
    status: 200,
    holds: [],
    ...fields,
  };
}

describe('ledger entry from a call', () => {
  it('takes time, ids, route, retries and durations from the call', () => {
    const usage = {
      input_tokens: 10,
      output_tokens: 20,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
    const cost = costOf(usage, 'claude-sonnet-5', new Date(Date.UTC(2026, 8, 1, 9)), { inferenceGeo: 'us' });
    const row = toLedgerRow(entryFromCall(finishedCall({ usage, cost })));
    expect(row).toMatchObject({
      at: Date.UTC(2026, 8, 1, 9),
      request_id: 'req_sluice_1',
      upstream_request_id: 'req_upstream',
      key_id: 'key_1',
      requested_model: 'sluice-reasoning',
      model: 'claude-sonnet-5',
      route_tier: 'reasoning',
      route_reason: 'code block; long prompt',
      retries: 2,
      latency_ms: 901,
      ttft_ms: 250,
      geo: 'us',
      batch: 0,
      priced: 1,
    });
    // $2/$10 (the September step to $3/$15 was cancelled): (10 × 2 + 20 × 10) × 1.1 µ$ = 242 µ$
    expect(row.cost_pico).toBe(242_000_000);
  });

  it('records usage nobody priced as unpriced, and a call without usage as free', () => {
    const usage = {
      input_tokens: 10,
      output_tokens: 20,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
    expect(toLedgerRow(entryFromCall(finishedCall({ usage }))).priced).toBe(0);
    const refused = toLedgerRow(
      entryFromCall(finishedCall({ status: 400, upstream: undefined, firstByteAt: undefined })),
    );
    expect(refused).toMatchObject({
      priced: 1,
      cost_pico: 0,
      status: 400,
      upstream_status: null,
      retries: 0,
      ttft_ms: null,
      input_tokens: 0,
    });
  });
});
