import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/index.js';
import { servesInThread } from '../../src/cli/serve-thread.js';
import { GATEWAY_SEMI_SPACE_MB, workerExecArgv } from '../../src/cluster/young-generation.js';

const argv = (...args: string[]) => ['node', 'sluice', ...args];
const nodeOptions = process.env.NODE_OPTIONS;
afterEach(() => {
  if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = nodeOptions;
});

describe('what a command loads', () => {
  it('registers only the subcommand named, and every one for help or an unknown name', async () => {
    const names = async (args: string[]) => (await buildProgram(args)).commands.map((c) => c.name());
    expect(await names(argv('serve', '--port', '0'))).toEqual(['serve']);
    expect(await names(argv('keys', 'list'))).toEqual(['keys']);
    const all = await names(argv('--help'));
    expect(all).toContain('serve');
    expect(all).toContain('scan');
    expect(all.length).toBeGreaterThan(10);
    expect(await names(argv('serv'))).toEqual(all);
  });
});

describe('the gateway thread of `sluice serve`', () => {
  it('is used for one process only, named by --workers 1 or one core', () => {
    delete process.env.NODE_OPTIONS;
    expect(servesInThread(argv('serve', '--workers', '1'))).toBe(true);
    expect(servesInThread(argv('serve', '--port', '0', '--workers=1'))).toBe(true);
    expect(servesInThread(argv('serve', '--workers', '2'))).toBe(false);
    expect(servesInThread(argv('serve'))).toBe(availableParallelism() === 1);
    expect(servesInThread(argv('serve', '--workers', '1', '--help'))).toBe(false);
    expect(servesInThread(argv('keys', 'list', '--workers', '1'))).toBe(false);
  });

  it('leaves a semi-space size chosen by the operator alone, in the thread and in cluster workers', () => {
    delete process.env.NODE_OPTIONS;
    expect(workerExecArgv()).toContain(`--max-semi-space-size=${GATEWAY_SEMI_SPACE_MB}`);
    process.env.NODE_OPTIONS = '--max-semi-space-size=16';
    expect(servesInThread(argv('serve', '--workers', '1'))).toBe(false);
    expect(workerExecArgv()).not.toContain(`--max-semi-space-size=${GATEWAY_SEMI_SPACE_MB}`);
  });
});
