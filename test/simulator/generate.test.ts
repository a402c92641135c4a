import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chooseTool, generate } from '../../src/simulator/generate.js';
import { createRng } from '../../src/simulator/random.js';
import { valueForSchema } from '../../src/simulator/schema-values.js';
import { countOutputTokens } from '../../src/simulator/tokens.js';
import type { MessagesRequest } from '../../src/simulator/types.js';
import { send, simulator, userMessage } from './helpers.js';

const options = { outputTokens: 40, tokenizer: 'claude-v1', seed: 42 };
const tool = {
  name: 'lookup_order',
  input_schema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
};

function request(overrides: Partial<MessagesRequest> = {}): MessagesRequest {
  return { model: 'm', max_tokens: 1000, messages: [{ role: 'user', content: 'Hello' }], ...overrides };
}

describe('generation', () => {
  it('writes outputTokens of text and reports exactly that many output tokens', () => {
    const answer = generate(request(), options);
    expect(answer.stopReason).toBe('end_turn');
    expect(answer.outputTokens).toBe(40);
    expect(countOutputTokens(answer.content, 'claude-v2')).toBe(40);
    expect(generate(request(), options)).toEqual(answer);
    expect(generate(request(), { ...options, seed: 43 }).content).not.toEqual(answer.content);
  });

  it('cuts at max_tokens with stop_reason max_tokens, as a prefix of the full answer', () => {
    const full = generate(request(), options);
    const cut = generate(request({ max_tokens: 10 }), options);
    expect(cut.stopReason).toBe('max_tokens');
    expect(cut.outputTokens).toBe(10);
    const text = (cut.content[0] as { text: string }).text;
    expect((full.content[0] as { text: string }).text.startsWith(text)).toBe(true);
  });

  it('stops at the first stop sequence found in the text', () => {
    const full = (generate(request(), options).content[0] as { text: string }).text;
    const words = full.split(' ');
    const stop = ` ${words[5]}`;
    const answer = generate(request({ stop_sequences: ['never-there', stop] }), options);
    expect(answer.stopReason).toBe('stop_sequence');
    expect(answer.stopSequence).toBe(stop);
    const text = (answer.content[0] as { text: string }).text;
    expect(text).toBe(full.slice(0, full.indexOf(stop)));
    expect(answer.outputTokens).toBe(countOutputTokens(answer.content, 'claude-v1'));
  });

  it('thinks first within the budget, counting against max_tokens', () => {
    const answer = generate(
      request({ max_tokens: 1100, thinking: { type: 'enabled', budget_tokens: 1024 } }),
      {
        ...options,
        outputTokens: 2000,
      },
    );
    expect(answer.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(answer.stopReason).toBe('max_tokens');
    expect(answer.outputTokens).toBe(1100);
    expect(countOutputTokens([answer.content[0]!], 'claude-v1')).toBe(1024);
  });

  it('picks tools by a fixed rule', () => {
    const tools = [{ name: 'first_tool', input_schema: { type: 'object' } }, tool];
    const mentioning = [{ role: 'user' as const, content: 'Can you lookup order 17?' }];
    expect(chooseTool(request({ tools }))).toBeUndefined(); // auto, no mention
    expect(chooseTool(request({ tools, messages: mentioning }))?.name).toBe('lookup_order'); // "lookup order"
    expect(chooseTool(request({ tools, tool_choice: { type: 'any' } }))?.name).toBe('first_tool');
    expect(chooseTool(request({ tools, tool_choice: { type: 'any' }, messages: mentioning }))?.name).toBe(
      'lookup_order',
    );
    expect(chooseTool(request({ tools, tool_choice: { type: 'tool', name: 'lookup_order' } }))?.name).toBe(
      'lookup_order',
    );
    expect(
      chooseTool(request({ tools, tool_choice: { type: 'none' }, messages: mentioning })),
    ).toBeUndefined();
    const answered = request({
      tools,
      messages: [
        ...mentioning,
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 't1', name: 'lookup_order', input: { id: '17' } }],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 't1', content: 'shipped' },
            { type: 'text', text: 'lookup_order said' },
          ],
        },
      ],
    });
    expect(chooseTool(answered)).toBeUndefined();
  });

  it('calls a forced tool without text, and an auto tool after a short preamble', () => {
    const forced = generate(request({ tools: [tool], tool_choice: { type: 'any' } }), options);
    expect(forced.content.map((b) => b.type)).toEqual(['tool_use']);
    expect(forced.stopReason).toBe('tool_use');
    expect(forced.outputTokens).toBe(countOutputTokens(forced.content, 'claude-v1'));
    const auto = generate(
      request({ tools: [tool], messages: [{ role: 'user', content: 'use lookup_order' }] }),
      options,
    );
    expect(auto.content.map((b) => b.type)).toEqual(['text', 'tool_use']);
  });

  it('uses the configured output length over HTTP', async () => {
    const sim = await simulator({ outputTokens: 5 });
    const response = await send(sim, '/v1/messages', userMessage('short'));
    expect(response.json.usage.output_tokens).toBe(5);
    expect(response.json.content[0].text.split(/[ .]+/).filter(Boolean).length).toBeLessThanOrEqual(5);
  });
});

describe('values for JSON schemas', () => {
  const schemas: Record<string, Record<string, unknown>> = {
    scalars: {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 12, maxLength: 20 },
        count: { type: 'integer', minimum: 5, maximum: 6 },
        ratio: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        flag: { type: 'boolean' },
        colour: { enum: ['red', 'green'] },
        fixed: { const: 'v1' },
        when: { type: 'string', format: 'date-time' },
        email: { type: 'string', format: 'email' },
        maybe: { type: ['string', 'null'] },
        skipped: { type: 'string' },
      },
      required: ['name', 'count', 'ratio', 'flag', 'colour', 'fixed', 'when', 'email', 'maybe'],
      additionalProperties: false,
    },
    nested: {
      type: 'object',
      properties: {
        items: {
          type: 'array',
          minItems: 3,
          items: {
            type: 'object',
            properties: { sku: { type: 'string' }, qty: { type: 'integer', minimum: 1 } },
            required: ['sku', 'qty'],
          },
        },
        address: { $ref: '#/$defs/address' },
        choice: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 10, maximum: 10 }] },
      },
      required: ['items', 'address', 'choice'],
      $defs: { address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
    },
  };

  it.each(Object.entries(schemas))('generates a conforming value for %s', (_name, schema) => {
    for (let seed = 0; seed < 25; seed++) {
      const value = valueForSchema(schema, createRng(seed));
      const result = z.fromJSONSchema(schema as never).safeParse(value);
      expect(result.success, JSON.stringify(value)).toBe(true);
    }
  });

  it('fills only required properties', () => {
    const value = valueForSchema(schemas.scalars!, createRng(1)) as Record<string, unknown>;
    expect(Object.keys(value).sort()).toEqual([...(schemas.scalars!.required as string[])].sort());
  });
});

describe('a model for agents', () => {
  const schema = (properties: Record<string, unknown>, required: string[]) => ({
    type: 'object',
    properties,
    required,
  });
  // Names and schemas as Claude Code declares them.
  const agentTools = [
    { name: 'Agent', input_schema: schema({ prompt: { type: 'string' } }, ['prompt']) },
    {
      name: 'Bash',
      input_schema: schema({ command: { type: 'string' }, description: { type: 'string' } }, ['command']),
    },
    { name: 'ListAgents', input_schema: schema({}, []) },
    {
      name: 'Read',
      input_schema: schema(
        { file_path: { type: 'string', description: 'The absolute path to the file to read' } },
        ['file_path'],
      ),
    },
    {
      name: 'Write',
      input_schema: schema({ file_path: { type: 'string' }, content: { type: 'string' } }, [
        'file_path',
        'content',
      ]),
    },
  ];
  const turn = (text: string) => ({
    role: 'user' as const,
    content: [
      {
        type: 'text',
        text: '<system-reminder>\nYou can Read, Write and run Bash; list files with care.\n</system-reminder>',
      },
      { type: 'text', text },
    ],
  });
  const environment = {
    role: 'system' as const,
    content: [{ type: 'text', text: '# Environment\n - Primary working directory: /tmp/work' }],
  };

  it('answers a plain prompt with text and end_turn, whatever the reminders name', () => {
    const answer = generate(
      request({ tools: agentTools, messages: [turn('Say hello in one short sentence.'), environment] }),
      options,
    );
    expect(answer.stopReason).toBe('end_turn');
    expect(answer.content.map((b) => b.type)).toEqual(['text']);
    for (const text of ['Write a haiku about rain.', 'What is a list in Python?']) {
      expect(chooseTool(request({ tools: agentTools, messages: [turn(text)] }))).toBeUndefined();
    }
  });

  it('reads the file the prompt names, with its absolute path in the working directory', () => {
    const answer = generate(
      request({
        tools: agentTools,
        messages: [turn('Read the file notes.txt and tell me the secret word.'), environment],
      }),
      options,
    );
    expect(answer.stopReason).toBe('tool_use');
    const call = answer.content.find((b) => b.type === 'tool_use');
    expect(call).toMatchObject({ name: 'Read', input: { file_path: '/tmp/work/notes.txt' } });
  });

  it('runs the command the prompt quotes, and no tool lists files unless one does', () => {
    const run = generate(
      request({ tools: agentTools, messages: [turn('Please run `ls -la` here.')] }),
      options,
    );
    expect(run.content.find((b) => b.type === 'tool_use')).toMatchObject({
      name: 'Bash',
      input: { command: 'ls -la' },
    });
    // ListAgents lists agents, not files: no tool fits.
    expect(chooseTool(request({ tools: agentTools, messages: [turn('list the files')] }))).toBeUndefined();
    const glob = { name: 'Glob', input_schema: schema({ pattern: { type: 'string' } }, ['pattern']) };
    const listed = generate(
      request({ tools: [...agentTools, glob], messages: [turn('List the *.ts files.')] }),
      options,
    );
    expect(listed.content.find((b) => b.type === 'tool_use')).toMatchObject({
      name: 'Glob',
      input: { pattern: '*.ts' },
    });
  });

  it('answers a tool_result with text and end_turn, so the loop ends', () => {
    const messages = [
      turn('Read notes.txt'),
      {
        role: 'assistant' as const,
        content: [
          { type: 'tool_use', id: 'toolu_1', name: 'Read', input: { file_path: '/tmp/work/notes.txt' } },
        ],
      },
      {
        role: 'user' as const,
        content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'pelican' }],
      },
      environment,
    ];
    const answer = generate(request({ tools: agentTools, messages }), options);
    expect(answer.stopReason).toBe('end_turn');
    expect(answer.content.every((b) => b.type === 'text')).toBe(true);
  });
});
