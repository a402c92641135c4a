import { describe, expect, it } from 'vitest';
import { classify } from '../../src/routing/classify.js';
import { EVAL_SETS, evaluate, loadEvalSet } from '../../src/routing/evaluate.js';
import { buildIndex, countTerms, emptyCounts } from '../../src/routing/lexicon.js';
import type { MessagesRequestBody } from '../../src/routing/request.js';

function ask(prompt: string, extra: Partial<MessagesRequestBody> = {}): MessagesRequestBody {
  return { model: 'auto', max_tokens: 1024, messages: [{ role: 'user', content: prompt }], ...extra };
}

describe('evaluation sets', () => {
  const all = EVAL_SETS.flatMap((name) => loadEvalSet(name));

  it('hold at least 60 labelled prompts across the three tiers', () => {
    expect(all.length).toBeGreaterThanOrEqual(60);
    for (const tier of ['fast', 'reasoning', 'critical'] as const) {
      expect(all.filter((item) => item.tier === tier).length).toBeGreaterThanOrEqual(20);
    }
    expect(new Set(all.map((item) => item.id)).size).toBe(all.length);
  });

  it('agree with the labels at least 90 % of the time and never send a critical prompt to fast', () => {
    const report = evaluate(all);
    expect(report.agreement).toBeGreaterThanOrEqual(0.9);
    expect(report.criticalToFast).toEqual([]);
    expect(report.cost.router).toBeLessThan(report.cost.allCritical);
  });
});

describe('classify', () => {
  it('is deterministic and keeps the score in [0, 1] with ASCII reasons', () => {
    const body = ask(
      'Refactor this function and explain the trade-offs:\n```ts\nconst f = (x) => x * 2;\n```',
    );
    const first = classify(body);
    expect(classify(body)).toEqual(first);
    expect(first.score).toBeGreaterThanOrEqual(0);
    expect(first.score).toBeLessThanOrEqual(1);
    for (const reason of first.reasons) expect(reason).toMatch(/^[\x21-\x7e]+$/);
  });

  it('sends a greeting to fast, code to reasoning and a risky personal decision to critical', () => {
    expect(classify(ask('hello!')).tier).toBe('fast');
    expect(
      classify(ask('Implement a binary search tree in Rust with insert, delete and an in-order iterator.'))
        .tier,
    ).toBe('reasoning');
    expect(
      classify(ask('Should I stop taking my insulin if my blood sugar has been normal for a week?')).tier,
    ).toBe('critical');
  });

  it('lifts a trivial prompt to at least reasoning when thinking is requested', () => {
    const plain = classify(ask('hello'));
    const thinking = classify(ask('hello', { thinking: { type: 'enabled', budget_tokens: 8000 } }));
    expect(plain.tier).toBe('fast');
    expect(thinking.tier).toBe('reasoning');
    expect(thinking.reasons.some((reason) => reason.startsWith('thinking'))).toBe(true);
  });

  it('counts tools, images and the system prompt', () => {
    const base = classify(ask('Look at this and tell me what you think.'));
    const tools = classify(
      ask('Look at this and tell me what you think.', {
        tools: Array.from({ length: 4 }, (_, i) => ({ name: `t${i}`, input_schema: {} })),
      }),
    );
    const image = classify({
      model: 'auto',
      max_tokens: 1024,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
            { type: 'text', text: 'Look at this and tell me what you think.' },
          ],
        },
      ],
    });
    const system = classify(
      ask('Look at this and tell me what you think.', {
        system: 'You assist oncologists choosing chemotherapy dosage for patients.',
      }),
    );
    expect(tools.score).toBeGreaterThan(base.score);
    expect(tools.contributions.tools).toBeGreaterThan(0);
    expect(image.contributions.images).toBeGreaterThan(0);
    expect(system.contributions.domainRisk).toBeGreaterThan(0);
  });

  it('reads the instruction of an agent loop from the last user turn that has text', () => {
    const body: MessagesRequestBody = {
      model: 'auto',
      max_tokens: 1024,
      messages: [
        {
          role: 'user',
          content: 'Our patient takes warfarin. Should we stop it before the surgery on Friday?',
        },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'lookup', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: 'INR 2.4' }] },
      ],
    };
    const result = classify(body);
    expect(result.tier).toBe('critical');
    expect(result.contributions.agentLoop).toBeGreaterThan(0);
  });

  it('scores a 100k-token prompt and reports its length', () => {
    const paragraph = 'The quarterly report lists revenue by region and product line for the period. ';
    const long = paragraph.repeat(Math.ceil(400_000 / paragraph.length));
    const result = classify(ask(`${long}\nSummarize the main changes.`));
    expect(result.contributions.length).toBeGreaterThan(0);
    expect(result.reasons.some((reason) => reason.startsWith('long-input'))).toBe(true);
  });

  it('survives malformed content without throwing', () => {
    const odd = {
      model: 'auto',
      max_tokens: 10,
      messages: [{ role: 'user', content: [null, { type: 'text' }] }],
    };
    expect(classify(odd as unknown as MessagesRequestBody).tier).toBe('fast');
    expect(classify({ model: 'auto', max_tokens: 10, messages: [] }).tier).toBe('fast');
  });
});

describe('lexicon', () => {
  it('matches words, stems and phrases of up to four words', () => {
    const counts = emptyCounts();
    countTerms('We must investigate it step-by-step; what would you do?', counts);
    expect(counts.analysis).toBeGreaterThanOrEqual(1);
    expect(counts.multiStep).toBeGreaterThanOrEqual(1);
    expect(counts.advice).toBe(1);
  });

  it('rejects a phrase longer than the scanner can match', () => {
    expect(() => buildIndex({ code: 'one two three four five' })).toThrow(/four words/);
  });
});
