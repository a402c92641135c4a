import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { patchedBody } from '../../src/pipeline/body-bytes.js';
import { fuzzParameters } from '../helpers/fuzz.js';

const text = (buffer: Buffer) => buffer.toString('utf8');

describe('the bytes forwarded for a changed body', () => {
  const raw = Buffer.from(
    '{ "model" : "auto",\n  "messages":[{"role":"user","content":"caf\\u00e9 \\"quoted\\" {not: structure}"}],' +
      '"metadata":{"user_id":"{\\"session_id\\":\\"s\\"}"},"temperature":1.0,"seed_like":12345678901234567890 }',
  );

  it('re-writes only the values a stage changed, keeping every other byte', () => {
    const body = JSON.parse(text(raw));
    body.model = 'claude-haiku-4-5-20251001';
    const patched = text(patchedBody(raw, body));
    expect(patched).toBe(text(raw).replace('"auto"', '"claude-haiku-4-5-20251001"'));
    expect(JSON.parse(patched).model).toBe('claude-haiku-4-5-20251001');
  });

  it('adds a missing field before the closing brace, and sends the client bytes when nothing changed', () => {
    const body = JSON.parse(text(raw));
    expect(patchedBody(raw, body)).toBe(raw);
    body.max_tokens = 4096;
    const patched = text(patchedBody(raw, body));
    expect(patched).toBe(`${text(raw).slice(0, -2)},"max_tokens":4096 }`);
    expect(patchedBody(Buffer.from('{}'), { max_tokens: 1 }).toString()).toBe('{"max_tokens":1}');
  });

  it('re-writes the whole body when a key repeats or was removed', () => {
    const repeated = Buffer.from('{"model":"a","model":"b"}');
    expect(text(patchedBody(repeated, { model: 'c' }))).toBe('{"model":"c"}');
    expect(text(patchedBody(Buffer.from('{"model":"a","x":1}'), { model: 'a' }))).toBe('{"model":"a"}');
  });

  it('equals the changed body for any JSON object and any change (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
        fc.constantFrom(0, 2, 4),
        fc.string({ maxLength: 8 }),
        (object, indent, model) => {
          const source = Buffer.from(JSON.stringify(object, null, indent));
          const body = JSON.parse(source.toString('utf8'));
          body.model = model;
          const patched = JSON.parse(text(patchedBody(source, body)));
          expect(patched).toEqual(body);
        },
      ),
      fuzzParameters(300),
    );
  });
});
