import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { send, simulator } from './helpers.js';

describe('models endpoints', () => {
  it('lists every catalog model newest first with the default page size', async () => {
    const sim = await simulator();
    const page = await send(sim, '/v1/models');
    const catalog = defaultCatalog();
    expect(page.json.data).toHaveLength(Math.min(20, catalog.models.length));
    const newest = [...catalog.models].sort((a, b) => b.releasedAt.localeCompare(a.releasedAt))[0]!;
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
