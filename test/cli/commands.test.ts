import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_USAGE } from '../../src/cli/index.js';
import { budgetRefusal } from '../../src/ledger/budget-enforcer.js';
import { listBudgets } from '../../src/ledger/budget-store.js';
import { openStore } from '../../src/store/database.js';
import { cli, cliWorkspace } from '../helpers/cli.js';

const { dir, databaseUrl } = cliWorkspace('commands');

describe('sluice commands, as a user reads them', () => {
  it('lists keys under a header row, and says so when a key is revoked twice', async () => {
    expect(
      (await cli('keys', 'create', '--name', 'dev-cli-app', '--env', 'development')).error,
    ).toBeUndefined();
    const [header, row] = (await cli('keys', 'list')).out.split('\n');
    expect(header!.split(/\s{2,}/)).toEqual([
      'name',
      'environment',
      'status',
      'key',
      'last used',
      'expires',
      'limits',
    ]);
    expect(row).toMatch(/^dev-cli-app\s+development\s+active\s+sk-sluice-…\w{4}\s+never\s+never$/);

    expect(
      (await cli('keys', 'create', '--name', 'dev-cli-gone', '--env', 'development')).error,
    ).toBeUndefined();
    expect((await cli('keys', 'revoke', 'dev-cli-gone')).out).toMatch(
      /^Revoked dev-cli-gone \(sk-sluice-…\w{4}\)\.\n$/,
    );
    expect((await cli('keys', 'revoke', 'dev-cli-gone')).out).toMatch(
      /^dev-cli-gone \(sk-sluice-…\w{4}\) was already revoked; nothing changed\.\n$/,
    );
  });

  it('exits 2 for a key that does not exist, as for any other error', async () => {
    const result = await cli('keys', 'revoke', 'dev-cli-nobody');
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^sluice keys: .*dev-cli-nobody/);
  });

  it('shows, refuses and alerts a key budget under the key name, not its internal id', async () => {
    const set = await cli('budgets', 'set', '--key', 'dev-cli-app', '--window', 'total', '--usd', '5');
    expect(set.out).toContain('Budget of key dev-cli-app (total) set to $5;');
    const list = await cli('budgets', 'list');
    expect(list.out.split('\n')[1]).toMatch(/^key dev-cli-app\s+total\s+\$5\.000000/);
    expect(list.out).not.toMatch(/key_/);
    const json = JSON.parse((await cli('budgets', 'list', '--json')).out);
    expect(json[0]).toMatchObject({ scope: 'key', subject_name: 'dev-cli-app' });
    expect(json[0].subject).toMatch(/^key_/);

    const store = await openStore(databaseUrl);
    try {
      const [budget] = await listBudgets(store.db);
      const refusal = budgetRefusal(
        { budget: budget!, windowStart: 0, windowEnd: null, spentPico: 5n * 10n ** 12n, reservedPico: 0n },
        10n ** 10n,
      );
      expect(refusal.message).toMatch(
        /^total \(prepaid\) budget of key dev-cli-app \(\$5\) would be exceeded/,
      );
    } finally {
      await store.close();
    }
    expect((await cli('budgets', 'delete', '--key', 'dev-cli-app', '--window', 'total')).out).toBe(
      'Budget of key dev-cli-app (total) deleted.\n',
    );
  });

  it('refuses a bad amount or window clearly, as a usage error', async () => {
    const amount = await cli('budgets', 'set', '--global', '--window', 'total', '--usd', 'abc');
    expect(amount.error?.message).toBe('--usd takes an amount in US dollars such as 100 or 2.50, not "abc"');
    const window = await cli('budgets', 'set', '--global', '--window', 'weekly', '--usd', '5');
    expect(window.code).toBe(EXIT_USAGE);
    expect(window.err).toContain("argument 'weekly' is invalid");
  });

  it('refuses a baseline model the catalog does not know', async () => {
    const result = await cli('spend', '--routing', '--baseline-model', 'claude-nope');
    expect(result.error?.message).toMatch(/--baseline-model: "claude-nope" is not a model in the catalog/);
  });

  it('reads tier headroom as headroom, not as use', async () => {
    const { out } = await cli('tier', '--tier', 'evaluation');
    expect(out).toContain('peak / tier limit (headroom left)');
    expect(out).toMatch(/^haiku-5-5\s+0 \/ 50 \(100% free\)/m);
  });

  // A CLI process compiled by tsx as it starts: slow on a busy machine.
  it('exits 2 from the real command line for an error it explains', async () => {
    const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
    const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
    const child = spawn(
      process.execPath,
      ['--import', tsx, main, 'budgets', 'set', '--global', '--window', 'total', '--usd', 'x'],
      {
        cwd: dir,
        env: { PATH: process.env.PATH!, SLUICE_DATABASE_URL: databaseUrl },
      },
    );
    let err = '';
    child.stderr.on('data', (chunk) => (err += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect([code, err]).toEqual([
      2,
      'sluice: --usd takes an amount in US dollars such as 100 or 2.50, not "x"\n',
    ]);
  }, 120_000);
});
