import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { ManualClock } from '../../src/simulator/index.js';
import { sdkClient, send, simulator } from './helpers.js';

describe('models endpoints', () => {
  it('lists every model in service newest first with the default page size', async () => {
    const sim = await simulator();
    const page = await send(sim, '/v1/models');
    const catalog = defaultCatalog();
    const today = new Date();
    const inService = catalog.models.filter((m) => catalog.statusAt(m, today) !== 'retired');
    expect(page.json.data).toHaveLength(Math.min(20, inService.length));
    const newest = [...inService].sort((a, b) => b.releasedAt.localeCompare(a.releasedAt))[0]!;
    expect(page.json.data[0].created_at.slice(0, 10)).toBe(newest.releasedAt);
    for (const model of page.json.data) {
      const entry = catalog.model(model.id)!;
      expect(model).toMatchObject({
        type: 'model',
        display_name: entry.displayName,
        max_input_tokens: entry.contextWindow,
        max_tokens: entry.maxOutputTokens,
      });
    }
  });

  it('pages forward with after_id and back with before_id', async () => {
    const sim = await simulator();
    const all = (await send(sim, '/v1/models?limit=1000')).json.data.map((m: { id: string }) => m.id);
    const first = (await send(sim, '/v1/models?limit=3')).json;
    expect(first).toMatchObject({ has_more: true, first_id: all[0], last_id: all[2] });
    const second = (await send(sim, `/v1/models?limit=3&after_id=${first.last_id}`)).json;
    expect(second.data.map((m: { id: string }) => m.id)).toEqual(all.slice(3, 6));
    const back = (await send(sim, `/v1/models?limit=2&before_id=${second.first_id}`)).json;
    expect(back.data.map((m: { id: string }) => m.id)).toEqual(all.slice(1, 3));
    expect(back.has_more).toBe(true);
    const last = (await send(sim, `/v1/models?limit=5&after_id=${all[all.length - 3]}`)).json;
    expect(last.data).toHaveLength(2);
    expect(last.has_more).toBe(false);
  });

  it('validates limit', async () => {
    const sim = await simulator();
    const response = await send(sim, '/v1/models?limit=1001');
    expect(response.status).toBe(400);
    expect(response.json.error.message).toBe('limit: Input should be less than or equal to 1000');
  });

  it('gets one model by id or alias, 404 otherwise', async () => {
    const sim = await simulator();
    const byAlias = await send(sim, '/v1/models/claude-haiku-4-5');
    expect(byAlias.json.id).toBe('claude-haiku-4-5-20251001');
    expect(byAlias.json.max_tokens).toBe(defaultCatalog().model('claude-haiku-4-5')!.maxOutputTokens);
    const missing = await send(sim, '/v1/models/claude-xyz');
    expect(missing.status).toBe(404);
    expect(missing.json.error).toEqual({ type: 'not_found_error', message: 'model: claude-xyz' });
  });
});

describe('models: limits, capabilities and retirement from the catalog', () => {
  it('reports the window, output limit and capabilities derived from the catalog entry', async () => {
    const client = sdkClient(await simulator());
    const opus = await client.models.retrieve('claude-opus-5-5');
    expect(opus).toMatchObject({ max_input_tokens: 1_000_000, max_tokens: 128_000, lifecycle: 'active' });
    const caps = opus.capabilities!;
    expect(caps.thinking).toEqual({
      supported: true,
      types: { adaptive: { supported: true }, enabled: { supported: false }, disabled: { supported: false } },
    });
    expect(caps.effort).toMatchObject({
      supported: true,
      xhigh: { supported: true },
      max: { supported: true },
    });
    for (const key of [
      'batch',
      'citations',
      'code_execution',
      'image_input',
      'pdf_input',
      'structured_outputs',
    ] as const) {
      expect(caps[key]).toEqual({ supported: true });
    }
    expect(caps.context_management).toMatchObject({ supported: true, compact_20260112: { supported: true } });

    const sonnet46 = (await client.models.retrieve('claude-sonnet-4-6')).capabilities!;
    expect(sonnet46.thinking.types).toMatchObject({
      adaptive: { supported: true },
      enabled: { supported: true },
      disabled: { supported: true },
    });
    const haiku45 = await client.models.retrieve('claude-haiku-4-5');
    expect(haiku45).toMatchObject({ max_input_tokens: 200_000, max_tokens: 64_000 });
    expect(haiku45.capabilities!.thinking.types).toMatchObject({
      adaptive: { supported: false },
      enabled: { supported: true },
    });
    expect(haiku45.capabilities!.effort.supported).toBe(false);
    expect(haiku45.capabilities!.context_management.compact_20260112).toEqual({ supported: false });
  });

  it('lists no retired model, and drops one on its retirement day', async () => {
    const clock = new ManualClock(Date.parse('2026-11-29T12:00:00Z'));
    const sim = await simulator({ clock });
    const listed = async () =>
      (await send(sim, '/v1/models?limit=1000')).json.data.map((m: { id: string }) => m.id);
    const before: string[] = await listed();
    const catalog = defaultCatalog();
    for (const id of ['claude-opus-4-1-20250805', 'claude-3-opus-20240229', 'claude-sonnet-4-20250514']) {
      expect(catalog.model(id)).toBeDefined();
      expect(before).not.toContain(id);
    }
    expect(before).toContain('claude-sonnet-4-5-20250929');
    const sonnet45 = (await send(sim, '/v1/models/claude-sonnet-4-5')).json;
    expect(sonnet45).toMatchObject({ lifecycle: 'deprecated', retires_at: '2026-11-30' });
    clock.advance(86_400_000);
    const after: string[] = await listed();
    expect(after).not.toContain('claude-sonnet-4-5-20250929');
    expect(after).toHaveLength(before.length - 1);
    expect((await send(sim, '/v1/models/claude-sonnet-4-5')).status).toBe(404);
  });
});
