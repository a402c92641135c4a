import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/pipeline/errors.js';
import { ownershipStage, referencedObjectsStage, UpstreamObjects } from '../../src/pipeline/ownership.js';
import { CallSignal } from '../../src/pipeline/signal.js';
import type { Call } from '../../src/pipeline/types.js';
import type { Store } from '../../src/store/database.js';
import { storeKinds } from '../ledger/stores.js';

function callOf(keyId: string, fields: Partial<Call> = {}): Call {
  return {
    id: 'req_test',
    receivedAt: 0,
    startedAtMs: Date.now(),
    path: '/v1/files',
    headers: {},
    body: { model: 'claude-haiku-4-5', messages: [] },
    rawBody: Buffer.alloc(0),
    bodyChanged: false,
    signal: new CallSignal(),
    priority: 'interactive',
    holds: [],
    principal: { keyId, name: `prod-${keyId}-v1`, environment: 'production' },
    ...fields,
  };
}

const refusal = async (run: () => unknown) => {
  try {
    await run();
  } catch (error) {
    return error as ApiError;
  }
  return undefined;
};

for (const { kind, open } of storeKinds) {
  describe(`ownership of upstream objects on ${kind}`, () => {
    let store: Store;
    let objects: UpstreamObjects;
    beforeAll(async () => {
      store = await open('ownership');
      objects = new UpstreamObjects(store.db);
    });
    afterAll(() => store.close());

    it('remembers the creator from the answer, and refuses every other key with 404', async () => {
      const create = callOf('key_a');
      await ownershipStage(objects, { kind: 'file', action: 'create' }).run(create);
      const answer = Buffer.from(JSON.stringify({ id: 'file_a1', type: 'file' }));
      expect(await create.rewriteAnswer!(200, answer)).toBe(answer);
      // A failed create remembers nothing.
      await create.rewriteAnswer!(400, Buffer.from(JSON.stringify({ id: 'file_failed' })));

      const read = ownershipStage(objects, { kind: 'file', action: 'read', param: 'file_id' });
      expect(
        await refusal(() => read.run(callOf('key_a', { params: { file_id: 'file_a1' } }))),
      ).toBeUndefined();
      const other = await refusal(() => read.run(callOf('key_b', { params: { file_id: 'file_a1' } })));
      expect(other).toBeInstanceOf(ApiError);
      expect(other).toMatchObject({ status: 404, type: 'not_found_error' });
      expect(
        await refusal(() => read.run(callOf('key_a', { params: { file_id: 'file_failed' } }))),
      ).toMatchObject({
        status: 404,
      });
    });

    it('filters list pages to the key own objects and keeps Anthropic skills for everyone', async () => {
      await objects.remember('file_a2', 'file', 'key_a', 'production');
      await objects.remember('file_b1', 'file', 'key_b', 'production');
      const list = callOf('key_b');
      await ownershipStage(objects, { kind: 'file', action: 'list' }).run(list);
      const page = {
        data: [{ id: 'file_a2' }, { id: 'file_b1' }, { id: 'file_a1' }],
        has_more: true,
        first_id: 'file_a2',
        last_id: 'file_a1',
      };
      const filtered = JSON.parse(
        (await list.rewriteAnswer!(200, Buffer.from(JSON.stringify(page)))).toString(),
      );
      expect(filtered).toEqual({
        data: [{ id: 'file_b1' }],
        has_more: true,
        first_id: 'file_b1',
        last_id: 'file_b1',
      });

      await objects.remember('skill_01a', 'skill', 'key_a', 'production');
      const skills = callOf('key_b');
      await ownershipStage(objects, { kind: 'skill', action: 'list' }).run(skills);
      const skillPage = {
        data: [
          { id: 'skill_01a', source: { type: 'custom' } },
          { id: 'pptx', source: { type: 'anthropic' } },
        ],
      };
      const visible = JSON.parse(
        (await skills.rewriteAnswer!(200, Buffer.from(JSON.stringify(skillPage)))).toString(),
      );
      expect(visible.data.map((s: { id: string }) => s.id)).toEqual(['pptx']);
    });

    it('forgets a deleted object once the upstream confirmed the delete', async () => {
      await objects.remember('file_a3', 'file', 'key_a', 'production');
      const rule = { kind: 'file', action: 'delete', param: 'file_id' } as const;
      const failed = callOf('key_a', { params: { file_id: 'file_a3' } });
      await ownershipStage(objects, rule).run(failed);
      await failed.rewriteAnswer!(500, Buffer.from('{}'));
      expect((await objects.ownedBy('key_a', 'file', ['file_a3'])).has('file_a3')).toBe(true);
      const deleted = callOf('key_a', { params: { file_id: 'file_a3' } });
      await ownershipStage(objects, rule).run(deleted);
      await deleted.rewriteAnswer!(200, Buffer.from('{}'));
      expect((await objects.ownedBy('key_a', 'file', ['file_a3'])).size).toBe(0);
    });

    it('refuses a Messages request naming a file or custom skill of another key', async () => {
      await objects.remember('file_c1', 'file', 'key_c', 'production');
      await objects.remember('skill_01c', 'skill', 'key_c', 'production');
      const stage = referencedObjectsStage(objects);
      const body = (fileId: string, skillId: string) => ({
        model: 'claude-haiku-4-5',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'file_id in text is not a reference' },
              { type: 'document', source: { type: 'file', file_id: fileId } },
            ],
          },
        ],
        container: {
          skills: [
            { type: 'custom', skill_id: skillId },
            { type: 'anthropic', skill_id: 'pptx' },
          ],
        },
      });
      expect(
        await refusal(() => stage.run(callOf('key_c', { body: body('file_c1', 'skill_01c') }))),
      ).toBeUndefined();
      expect(
        await refusal(() => stage.run(callOf('key_d', { body: body('file_c1', 'skill_01c') }))),
      ).toMatchObject({
        status: 404,
        message: 'File not found: file_c1',
      });
      await objects.remember('file_d1', 'file', 'key_d', 'production');
      expect(
        await refusal(() => stage.run(callOf('key_d', { body: body('file_d1', 'skill_01c') }))),
      ).toMatchObject({
        status: 404,
        message: 'Skill not found: skill_01c',
      });
      // A key spelled with escapes is still found.
      const escaped = Buffer.from(
        JSON.stringify(body('file_c1', 'skill_01c'))
          .replaceAll('"file_id"', '"file\\u005fid"')
          .replaceAll('"skill_id"', '"skill\\u005fid"'),
      );
      const parsed = JSON.parse(escaped.toString());
      expect(
        await refusal(() => stage.run(callOf('key_d', { body: parsed, rawBody: escaped }))),
      ).toMatchObject({ status: 404, message: 'File not found: file_c1' });
      // A request naming nothing costs no query.
      expect(stage.run(callOf('key_d'))).toBeUndefined();
    });
  });
}
