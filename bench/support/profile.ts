/**
 * Where a benchmark server spends its time: runs `role` (sluice, proxy, simulator) under
 * --cpu-prof against the simulator, drives it, and prints the functions with the most time.
 *   npx tsx bench/support/profile.ts sluice json 32
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_UPSTREAM_KEY, runLoad, startServer } from './load.js';

const [role = 'sluice', mode = 'json', concurrency = '32'] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'sluice-prof-'));
const simulator = await startServer('simulator');
const servers = fileURLToPath(new URL('./servers.ts', import.meta.url));
const child = spawn(
  process.execPath,
  ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', servers, role, simulator.url],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const target = await new Promise<{ url: string; key?: string }>((resolve) => {
  let text = '';
  child.stdout!.on('data', (chunk) => {
    text += chunk;
    const url = /READY (\S+)/.exec(text)?.[1];
    if (url) resolve({ url, key: /KEY (\S+)/.exec(text)?.[1] });
  });
});
const body = JSON.stringify({
  model: process.env.BENCH_MODEL ?? 'claude-haiku-5-5',
  max_tokens: 64,
  stream: mode === 'stream',
  messages: [{ role: 'user', content: 'Summarise the benefits of connection pooling in two sentences.' }],
});
const result = await runLoad({
  url: target.url,
  headers: {
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
    'x-api-key': target.key ?? BENCH_UPSTREAM_KEY,
  },
  body,
  concurrency: Number(concurrency),
  seconds: 6,
});
console.log(
  `${role} ${mode} c=${concurrency}: ${Math.round(result.rps)} rps, p50 ${result.p50.toFixed(3)} ms`,
);
child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));
simulator.stop();

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const file = readdirSync(dir)
  .map((name) => join(dir, name))
  .sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0]!;
const profile = JSON.parse(readFileSync(file, 'utf8')) as {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
};
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const self = new Map<number, number>();
// Only the second half of the run: start-up, module loading and JIT warm-up are left out.
const elapsed: number[] = [];
profile.timeDeltas.reduce((sum, delta, i) => (elapsed[i] = sum + delta), 0);
const half = (elapsed.at(-1) ?? 0) / 2;
profile.samples.forEach((id, i) => {
  if (elapsed[i]! >= half) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
const inclusive = new Map<string, number>();
for (const [id, time] of self) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const frame = byId.get(at)!.callFrame;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
    if (!seen.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + time);
    seen.add(name);
  }
}
for (const [name, time] of [...inclusive]
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(process.env.PROFILE_TOP ?? 60))) {
  console.log(`${((time / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
}

// Self time grouped by file: where the CPU goes, not who called it.
const byFile = new Map<string, number>();
for (const [id, time] of self) {
  const url = byId.get(id)!.callFrame.url;
  const file = url
    ? url.replace(/^.*node_modules\//, 'npm:').replace(/^.*\/(src|dist)\//, '$1/')
    : byId.get(id)!.callFrame.functionName;
  byFile.set(file, (byFile.get(file) ?? 0) + time);
}
console.log('--- self time by file');
for (const [file, time] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 45)) {
  console.log(`${((time / total) * 100).toFixed(1).padStart(5)}%  ${file}`);
}

// Self time by function.
const byFunction = new Map<string, number>();
for (const [id, time] of self) {
  const frame = byId.get(id)!.callFrame;
  const name = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + time);
}
console.log('--- self time by function');
for (const [name, time] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
  console.log(`${((time / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
}
