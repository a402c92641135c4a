/**
 * What a server role allocates per request, by function (bytes sampled, kept or collected):
 *   npx tsx bench/support/alloc.ts sluice-bare [json|stream]
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_UPSTREAM_KEY, runLoad, startServer } from './load.js';

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const [role = 'sluice', mode = 'json'] = process.argv.slice(2);
const file = join(tmpdir(), `sluice-alloc-${process.pid}.json`);
const simulator = await startServer('simulator');
const server = await startServer(role, simulator.url, { BENCH_ALLOCATIONS: file });
const body = JSON.stringify({
  model: 'claude-haiku-5-5',
  max_tokens: 64,
  stream: mode === 'stream',
  messages: [{ role: 'user', content: 'Summarise the benefits of connection pooling in two sentences.' }],
});
const headers = {
  'content-type': 'application/json',
  'anthropic-version': '2023-06-01',
  'x-api-key': server.key ?? BENCH_UPSTREAM_KEY,
};
await runLoad({ url: server.url, headers, body, concurrency: 32, seconds: 2 });
server.child.kill('SIGUSR2');
await new Promise((resolve) => setTimeout(resolve, 200));
const result = await runLoad({ url: server.url, headers, body, concurrency: 32, seconds: 3, warmup: 0 });
const exited = new Promise((resolve) => server.child.once('exit', resolve));
server.child.kill('SIGTERM');
await exited;
simulator.stop();

const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
const bySelf = new Map<string, number>();
const walk = (node: HeapNode) => {
  const f = node.callFrame;
  const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, 'npm:').replace(/^.*\/(src|dist)\//, '$1/')}:${f.lineNumber + 1}`;
  bySelf.set(name, (bySelf.get(name) ?? 0) + node.selfSize);
  for (const child of node.children) walk(child);
};
walk(head);
const total = [...bySelf.values()].reduce((a, b) => a + b, 0);
console.log(
  `${role} ${mode}: ${result.requests} requests, ${(total / result.requests).toFixed(0)} bytes allocated per request`,
);
for (const [name, bytes] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 40)))
  console.log(`${(bytes / result.requests).toFixed(0).padStart(7)} B  ${name}`);
