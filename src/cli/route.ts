import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import type { MessagesRequestBody } from '../pipeline/types.js';
import { routingFor } from '../routing/from-config.js';
import { formatRouteHeader } from '../routing/header.js';
import { resolveRoute } from '../routing/resolve.js';
import { type ConfigFlags, loadForCommand, printJson } from './context.js';

interface RouteFlags extends ConfigFlags {
  file?: string;
  system?: string;
  tools?: number;
  images?: number;
  thinking?: number;
  maxTokens: number;
  model: string;
  key: string;
  env: string;
  header: string[];
  json?: boolean;
}

function count(flag: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${flag} takes a whole number, not "${value}"`);
    return Number(value);
  };
}

function collectHeader(value: string, previous: string[]): string[] {
  if (!value.includes(':')) throw new InvalidArgumentError(`--header takes "name: value", not "${value}"`);
  return [...previous, value];
}

function requestFrom(prompt: string, flags: RouteFlags): MessagesRequestBody {
  const images = Array.from({ length: flags.images ?? 0 }, () => ({
    type: 'image',
    source: { type: 'base64', media_type: 'image/png', data: '' },
  }));
  return {
    model: flags.model,
    max_tokens: flags.maxTokens,
    messages: [
      { role: 'user', content: images.length ? [...images, { type: 'text', text: prompt }] : prompt },
    ],
    ...(flags.system ? { system: flags.system } : {}),
    ...(flags.tools
      ? { tools: Array.from({ length: flags.tools }, (_, i) => ({ name: `tool_${i + 1}` })) }
      : {}),
    ...(flags.thinking ? { thinking: { type: 'enabled' as const, budget_tokens: flags.thinking } } : {}),
  };
}

function run(words: string[], flags: RouteFlags): void {
  const prompt = flags.file ? readFileSync(flags.file, 'utf8') : words.join(' ');
  if (!prompt.trim()) throw new InvalidArgumentError('give the prompt as text or with --file <path>');
  const loaded = loadForCommand(flags);
  const routing = routingFor(loaded.config);
  const headers = Object.fromEntries(
    flags.header.map((line) => {
      const at = line.indexOf(':');
      return [line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim()];
    }),
  );
  const decision = resolveRoute(
    { body: requestFrom(prompt, flags), headers, keyName: flags.key, environment: flags.env },
    routing,
  );
  const header = formatRouteHeader(decision);
  if (flags.json) {
    printJson({ ...decision, ...(header ? { header } : {}) });
    return;
  }
  if (decision.kind === 'explicit') {
    console.log(`model ${decision.model} is explicit: no routing`);
    return;
  }
  if (decision.kind === 'refused') {
    console.log(`refused (${decision.status} ${decision.errorType}): ${decision.message}`);
    process.exitCode = 1;
    return;
  }
  console.log(`tier:    ${decision.tier}`);
  console.log(`model:   ${decision.model}`);
  console.log(`score:   ${decision.score === null ? '-' : decision.score.toFixed(2)}`);
  console.log(`by:      ${decision.source}${decision.rule ? ` (rule ${decision.rule})` : ''}`);
  if (decision.confidence !== null) console.log(`confidence: ${decision.confidence.toFixed(2)}`);
  if (decision.decided !== null)
    console.log(
      `decided: ${decision.decided}${decision.needsJudge ? ' (the gateway would ask the judge: routing.judge is enabled; sluice route sends nothing)' : ''}`,
    );
  console.log('reasons:');
  for (const reason of decision.reasons) console.log(`  ${reason}`);
  console.log(`header:  x-sluice-route: ${header}`);
}

export function register(program: Command): void {
  program
    .command('route')
    .description('Show how model "auto" would be routed for a prompt, without sending anything')
    .argument('[prompt...]', 'the prompt text (the last user turn)')
    .option('-f, --file <path>', 'read the prompt from a file')
    .option('--system <text>', 'system prompt')
    .option('--tools <n>', 'number of tools offered', count('--tools'))
    .option('--images <n>', 'number of images attached', count('--images'))
    .option('--thinking <budget>', 'request extended thinking with this token budget', count('--thinking'))
    .option('--max-tokens <n>', 'max_tokens of the request', count('--max-tokens'), 1024)
    .option('--model <name>', 'model as the client sends it: auto or sluice-fast|reasoning|critical', 'auto')
    .option('--key <name>', 'virtual key name, for rules and key policies', 'cli')
    .option('--env <name>', 'environment, for rules', 'development')
    .option('-H, --header <line>', 'request header "name: value" (repeatable)', collectHeader, [])
    .option('--config <path>', 'path to sluice.yaml (its routing section)')
    .option('--json', 'print the decision as JSON')
    .action((words: string[], flags: RouteFlags) => run(words, flags));
}
