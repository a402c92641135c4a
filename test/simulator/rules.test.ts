import type Anthropic from '@anthropic-ai/sdk';
import { BadRequestError, NotFoundError } from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../src/catalog/catalog.js';
import { ManualClock, type SimulatorOptions } from '../../src/simulator/index.js';
import { knownRules } from '../../src/simulator/rules.js';
import { sdkClient, simulator } from './helpers.js';

// The SDK sends anthropic-version 2026-10-21; the rules of 2023-06-01 are reached by overriding it.
const v2023 = { defaultHeaders: { 'anthropic-version': '2023-06-01' } };

type Params = Anthropic.MessageCreateParamsNonStreaming & Record<string, unknown>;

async function client2023(options: SimulatorOptions = {}): Promise<Anthropic> {
  return sdkClient(await simulator(options), v2023);
}

function params(model: string, extra: Record<string, unknown> = {}): Params {
  return { model, max_tokens: 64, messages: [{ role: 'user', content: 'Hello there.' }], ...extra } as Params;
}

/** The request fails with a 400 invalid_request_error whose message matches. */
async function refused(request: Promise<unknown>, message: string | RegExp): Promise<void> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BadRequestError);
  const bad = error as BadRequestError;
  expect(bad.type).toBe('invalid_request_error');
  if (typeof message === 'string') expect(bad.apiMessage).toBe(message);
  else expect(bad.apiMessage).toMatch(message);
}

const prefill = [
  { role: 'user', content: 'Name a colour.' },
  { role: 'assistant', content: 'The colour is' },
];

describe('per-model request rules from the catalog', () => {
  it('knows every rule id the catalog uses except the prefix check', () => {
    const used = new Set(defaultCatalog().models.flatMap((m) => m.rules));
    expect([...used].filter((id) => !knownRules.includes(id))).toEqual(['prefix-check']);
  });

  it('refuses assistant prefill where the model has the rule, accepts it where not', async () => {
    const client = await client2023();
    await refused(
      client.messages.create(params('claude-opus-5-5', { messages: prefill })),
      'This model does not support assistant message prefill. The conversation must end with a user message.',
    );
    const old = await client.messages.create(params('claude-opus-4-5', { messages: prefill }));
    expect(old.type).toBe('message');
  });

  it('refuses non-default temperature, top_p and top_k on Claude 4.7+, accepts the defaults', async () => {
    const client = await client2023();
    await refused(
      client.messages.create(params('claude-sonnet-5-5', { temperature: 0.5 })),
      '`temperature` is deprecated for this model.',
    );
    await refused(
      client.messages.create(params('claude-haiku-5-5', { top_p: 0.9 })),
      '`top_p` is deprecated for this model.',
    );
    await refused(
      client.messages.create(params('claude-opus-4-7', { top_k: 5 })),
      '`top_k` is deprecated for this model.',
    );
    const defaults = await client.messages.create(params('claude-sonnet-5-5', { temperature: 1, top_p: 1 }));
    expect(defaults.type).toBe('message');
    const older = await client.messages.create(params('claude-sonnet-4-6', { temperature: 0.2, top_k: 5 }));
    expect(older.type).toBe('message');
  });

  it('refuses temperature with top_p on Haiku 4.5 only', async () => {
    const client = await client2023();
    await refused(
      client.messages.create(params('claude-haiku-4-5', { temperature: 0.5, top_p: 0.9 })),
      '`temperature` and `top_p` cannot both be specified for this model. Please use only one.',
    );
    expect((await client.messages.create(params('claude-haiku-4-5', { temperature: 0.5 }))).type).toBe(
      'message',
    );
    expect(
      (await client.messages.create(params('claude-sonnet-4-6', { temperature: 0.5, top_p: 0.9 }))).type,
    ).toBe('message');
  });

  it('refuses manual thinking where only adaptive thinking exists', async () => {
    const client = await client2023();
    const manual = { max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2000 } };
    for (const model of ['claude-haiku-5-5', 'claude-opus-4-8', 'claude-fable-5-2']) {
      await refused(
        client.messages.create(params(model, manual)),
        /^"thinking\.type\.enabled" is not supported for this model\. Use "thinking\.type\.adaptive" and "output_config\.effort"/,
      );
    }
    const sonnet46 = await client.messages.create(params('claude-sonnet-4-6', manual));
    expect(sonnet46.content[0]?.type).toBe('thinking');
    // Haiku 4.5 has manual thinking only.
    await refused(
      client.messages.create(params('claude-haiku-4-5', { thinking: { type: 'adaptive' } })),
      /"thinking\.type\.adaptive" is not supported for this model/,
    );
  });

  it('refuses disabled thinking where it is always on, and on Opus 5 at xhigh or max effort', async () => {
    const client = await client2023();
    const off = { thinking: { type: 'disabled' } };
    await refused(client.messages.create(params('claude-opus-5-5', off)), /"thinking\.type\.disabled"/);
    await refused(client.messages.create(params('claude-mythos-5', off)), /"thinking\.type\.disabled"/);
    for (const effort of ['xhigh', 'max']) {
      await refused(
        client.messages.create(params('claude-opus-5', { ...off, output_config: { effort } })),
        new RegExp(`effort "${effort}"`),
      );
    }
    for (const extra of [{}, { output_config: { effort: 'low' } }]) {
      expect((await client.messages.create(params('claude-opus-5', { ...off, ...extra }))).type).toBe(
        'message',
      );
    }
    expect((await client.messages.create(params('claude-sonnet-5-5', off))).type).toBe('message');
  });

  it('refuses forced tool_choice on the models that do not allow it', async () => {
    const client = await client2023();
    const tool = {
      name: 'lookup',
      description: 'Look it up',
      input_schema: { type: 'object', properties: {} },
    };
    for (const choice of [{ type: 'any' }, { type: 'tool', name: 'lookup' }]) {
      await refused(
        client.messages.create(params('claude-sonnet-5-5', { tools: [tool], tool_choice: choice })),
        new RegExp(`^tool_choice: forced tool use \\("${choice.type}"\\)`),
      );
    }
    const haiku = await client.messages.create(
      params('claude-haiku-5-5', { tools: [tool], tool_choice: { type: 'any' } }),
    );
    expect(haiku.stop_reason).toBe('tool_use');
  });

  it('refuses the computer_20251124 tool on Opus 5.5 and Fable 5.2, not on Mythos 5.2', async () => {
    const client = await client2023();
    const computer = {
      tools: [
        { type: 'computer_20251124', name: 'computer', display_width_px: 1024, display_height_px: 768 },
      ],
    };
    for (const model of ['claude-opus-5-5', 'claude-fable-5-2']) {
      await refused(
        client.messages.create(params(model, computer)),
        "tools.0: 'computer_20251124' is not supported for this model.",
      );
    }
    expect((await client.messages.create(params('claude-mythos-5-2', computer))).type).toBe('message');
  });

  it('refuses inference_geo on models before Claude 4.6 and unknown geographies', async () => {
    const client = await client2023();
    await refused(
      client.messages.create(params('claude-haiku-4-5', { inference_geo: 'us' })),
      'inference_geo: not supported for model claude-haiku-4-5-20251001.',
    );
    await refused(
      client.messages.create(params('claude-haiku-5-5', { inference_geo: 'mars' })),
      /inference_geo/,
    );
    const us = await client.messages.create(params('claude-haiku-5-5', { inference_geo: 'us' }));
    expect(us.usage.inference_geo).toBe('us');
  });

  it('checks speed "fast" against the model’s fast mode, its beta header and its end date', async () => {
    const clock = new ManualClock(Date.parse('2026-11-20T12:00:00Z'));
    const sim = await simulator({ clock });
    const client = sdkClient(sim, v2023);
    const fast = { speed: 'fast' };
    await refused(
      client.messages.create(params('claude-sonnet-5-5', fast)),
      /^speed: fast mode is not supported/,
    );
    expect((await client.messages.create(params('claude-opus-5-5', fast))).usage.speed).toBe('fast');
    // Research preview: only with its beta header.
    await refused(
      client.messages.create(params('claude-opus-5', fast)),
      /anthropic-beta: fast-mode-2026-02-01/,
    );
    const preview = await client.messages.create(params('claude-opus-5', fast), {
      headers: { 'anthropic-beta': 'other-beta, fast-mode-2026-02-01' },
    });
    expect(preview.usage.speed).toBe('fast');
    // Accepted and answered at standard speed.
    expect((await client.messages.create(params('claude-opus-4-6', fast))).usage.speed).toBe('standard');
    // Deprecated: works until its date, refused from that day on.
    expect((await client.messages.create(params('claude-opus-4-8', fast))).usage.speed).toBe('fast');
    clock.advance(10 * 86_400_000);
    await refused(client.messages.create(params('claude-opus-4-8', fast)), /ended on 2026-11-30/);
    expect((await client.messages.create(params('claude-opus-4-8'))).usage.speed).toBe('standard');
  });
});

describe('context window and output limits from the catalog', () => {
  // One token per word under both tokenizers: a 1M-token prompt is a 3 MB string.
  const words = (count: number) => ' go'.repeat(count);

  it('accepts a prompt near 1M tokens on a current model and refuses one over the window', async () => {
    const sim = await simulator();
    const client = sdkClient(sim, v2023);
    const model = 'claude-sonnet-5-5';
    const window = defaultCatalog().model(model)!.contextWindow;
    expect(window).toBe(1_000_000);
    const near = { model, messages: [{ role: 'user' as const, content: words(window - 1_000) }] };
    const counted = await client.messages.countTokens(near);
    expect(counted.input_tokens).toBeGreaterThan(window - 1_000);
    expect(counted.input_tokens).toBeLessThanOrEqual(window);
    const answer = await client.messages.create({ ...near, max_tokens: 16 });
    expect(answer.usage.input_tokens).toBe(counted.input_tokens);

    const over = {
      model,
      max_tokens: 16,
      messages: [{ role: 'user' as const, content: words(window + 10) }],
    };
    const overCount = (await client.messages.countTokens(over)).input_tokens;
    await refused(
      client.messages.create(over),
      `prompt is too long: ${overCount} tokens > ${window} maximum`,
    );
    // A model with a 200K window refuses what a 1M model takes.
    await refused(
      client.messages.create({ ...near, model: 'claude-haiku-4-5', max_tokens: 16 }),
      /^prompt is too long: \d+ tokens > 200000 maximum$/,
    );
  });

  it('refuses max_tokens above the model maximum with the API wording, and accepts 0 as a cache pre-warm', async () => {
    const client = await client2023();
    await refused(
      client.messages.create(params('claude-opus-5-5', { max_tokens: 128_001 }), { timeout: 30_000 }),
      'max_tokens: 128001 > 128000, which is the maximum allowed number of output tokens for claude-opus-5-5',
    );
    const system = [{ type: 'text', text: words(2_000), cache_control: { type: 'ephemeral' } }];
    const warm = await client.messages.create(params('claude-opus-5-5', { max_tokens: 0, system }));
    expect(warm.content).toEqual([]);
    expect(warm.stop_reason).toBe('max_tokens');
    expect(warm.usage.output_tokens).toBe(0);
    expect(warm.usage.cache_creation_input_tokens).toBeGreaterThanOrEqual(2_000);
    const hit = await client.messages.create(params('claude-opus-5-5', { system }));
    expect(hit.usage.cache_read_input_tokens).toBe(warm.usage.cache_creation_input_tokens);
  });
});

describe('anthropic-version 2026-10-21', () => {
  it('refuses any sampling parameter, even at its default, as an extra input', async () => {
    const client = sdkClient(await simulator()); // the SDK's own version
    for (const [field, value] of [
      ['temperature', 1],
      ['top_p', 1],
      ['top_k', 5],
    ] as const) {
      await refused(
        client.messages.create(params('claude-sonnet-4-6', { [field]: value })),
        `${field}: Extra inputs are not permitted`,
      );
    }
    expect((await client.messages.create(params('claude-sonnet-4-6'))).type).toBe('message');
  });

  it('refuses document blocks in assistant messages and citations on user text, for Messages and count_tokens', async () => {
    const sim = await simulator();
    const strict = sdkClient(sim);
    const lenient = sdkClient(sim, v2023);
    const documentTurn = [
      { role: 'user', content: 'Summarise.' },
      {
        role: 'assistant',
        content: [
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Some text.' } },
        ],
      },
      { role: 'user', content: 'Go on.' },
    ];
    const citedTurn = [
      {
        role: 'user',
        content: [
          {
            type: 'text',
            text: 'As quoted.',
            citations: [
              {
                type: 'char_location',
                cited_text: 'x',
                document_index: 0,
                start_char_index: 0,
                end_char_index: 1,
              },
            ],
          },
        ],
      },
    ];
    for (const messages of [documentTurn, citedTurn]) {
      const body = params('claude-sonnet-4-6', { messages });
      await refused(strict.messages.create(body), /^messages\.\d\.content\.0/);
      await refused(strict.messages.countTokens(body as never), /^messages\.\d\.content\.0/);
      expect((await lenient.messages.create(body)).type).toBe('message');
    }
  });

  it('accepts mid-conversation system messages under both versions', async () => {
    const sim = await simulator();
    const messages = [
      { role: 'user', content: 'Plan a trip.' },
      { role: 'system', content: 'The user prefers trains.' },
      { role: 'assistant', content: 'Where to?' },
      { role: 'user', content: 'Lisbon.' },
    ];
    const without = params('claude-opus-5-5', { messages: messages.filter((m) => m.role !== 'system') });
    for (const client of [sdkClient(sim), sdkClient(sim, v2023)]) {
      const answer = await client.messages.create(params('claude-opus-5-5', { messages }));
      const plain = await client.messages.countTokens(without as never);
      // The system turn is part of the prompt.
      expect(answer.usage.input_tokens).toBeGreaterThan(plain.input_tokens);
    }
  });
});

describe('retired models', () => {
  it('answers not_found_error for Messages, count_tokens and the model, from the retirement day', async () => {
    const clock = new ManualClock(Date.parse('2026-11-29T23:59:00Z'));
    const sim = await simulator({ clock });
    const client = sdkClient(sim);
    const model = 'claude-sonnet-4-5'; // retires 2026-11-30
    expect((await client.messages.create(params(model))).model).toBe('claude-sonnet-4-5-20250929');
    expect((await client.models.retrieve(model)).id).toBe('claude-sonnet-4-5-20250929');

    clock.advance(60_000);
    for (const attempt of [
      () => client.messages.create(params(model)),
      () => client.messages.countTokens({ model, messages: [{ role: 'user', content: 'hi' }] }),
      () => client.models.retrieve(model),
    ]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as NotFoundError).type).toBe('not_found_error');
      expect((error as NotFoundError).apiMessage).toBe(`model: ${model}`);
    }
    const retiredLongAgo = await client.messages.create(params('claude-3-opus-20240229')).catch((e) => e);
    expect(retiredLongAgo).toBeInstanceOf(NotFoundError);
  });
});
