/**
 * Scan throughput and recall: sluice's scanner against secretlint with its Anthropic rule, on the
 * same corpus in the same run. Corpus: the text files of this project's node_modules (large, real),
 * copied to a temporary directory because secretlint always skips paths under node_modules/.
 * Each tool is given the directory and finds the files itself.
 * Recall: the key fixture (fake keys of real shape in many contexts, plus look-alikes).
 *
 *   npx tsx bench/scan.ts [--max-mb N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSecretLint } from 'secretlint';
import { scan } from '../src/secrets/scan.js';
import { walkFiles } from '../src/secrets/walk.js';
import { type KeyKind, KINDS, writeKeyFixture } from '../test/fixtures/secrets/fixture.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const TEXT_FILE = /\.(js|mjs|cjs|ts|mts|cts|json|md|map|txt|yml|yaml|html|css)$/;
const maxMbFlag = process.argv.indexOf('--max-mb');
const maxBytes = maxMbFlag > 0 ? Number(process.argv[maxMbFlag + 1]) * 1e6 : Number.POSITIVE_INFINITY;

interface SecretlintMessage {
  message: string;
  range: [number, number];
}

async function secretlint(cwd: string, files: string[]): Promise<Map<string, SecretlintMessage[]>> {
  const { stdout, stderr } = await runSecretLint({
    cliOptions: { cwd, filePathOrGlobList: files, noGlob: !files.some((file) => file.includes('*')) },
    engineOptions: {
      cwd,
      formatter: 'json',
      color: false,
      maskSecrets: false,
      configFileJSON: { rules: [{ id: '@secretlint/secretlint-rule-anthropic' }] },
    },
  });
  if (stderr) throw stderr;
  const results = JSON.parse(stdout ?? '[]') as Array<{ filePath: string; messages: SecretlintMessage[] }>;
  return new Map(results.map((result) => [result.filePath, result.messages]));
}

/** Copies node_modules' text files into `target` (folders renamed so no path says node_modules). */
async function copyCorpus(target: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const path of walkFiles(root, ['node_modules'])) {
    if (!TEXT_FILE.test(path)) continue;
    const size = (await stat(join(root, path))).size;
    if (bytes + size > maxBytes) break;
    const destination = join(target, path.replace(/(^|\/)node_modules(?=\/)/g, '$1nm'));
    await mkdir(dirname(destination), { recursive: true });
    await copyFile(join(root, path), destination);
    files++;
    bytes += size;
  }
  return { files, bytes };
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const value = await run();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

async function throughput(): Promise<void> {
  const corpus = mkdtempSync(join(tmpdir(), 'sluice-bench-corpus-'));
  try {
    const { files, bytes } = await copyCorpus(corpus);
    const mb = bytes / 1e6;
    console.log(`\ncorpus: ${files} text files from node_modules, ${mb.toFixed(1)} MB`);
    // Warm the page cache so neither tool pays for the first disk read.
    await scan({ cwd: corpus, git: false });
    const ours = await timed(() => scan({ cwd: corpus, git: false }));
    const theirs = await timed(() => secretlint(corpus, ['**/*']));
    const ourFindings = ours.value.findings.filter((f) => f.rule === 'anthropic-api-key').length;
    const theirFindings = [...theirs.value.values()].reduce((sum, messages) => sum + messages.length, 0);
    const ourRate = mb / ours.seconds;
    const theirRate = mb / theirs.seconds;
    console.log(
      `sluice scan:            ${ourRate.toFixed(1).padStart(7)} MB/s  (${ours.seconds.toFixed(2)} s, ${ours.value.files} files, ${ourFindings} API-key findings)`,
    );
    console.log(
      `secretlint + anthropic: ${theirRate.toFixed(1).padStart(7)} MB/s  (${theirs.seconds.toFixed(2)} s, ${theirFindings} API-key findings)`,
    );
    console.log(`ratio: sluice scans ${(ourRate / theirRate).toFixed(1)}x as fast as secretlint`);
    // Corpus findings one tool has and the other lacks, by path and token length (never the token).
    const ourPaths = new Set(ours.value.findings.map((f) => f.path));
    for (const [file, messages] of theirs.value) {
      const path = relative(corpus, file);
      if (ourPaths.has(path)) continue;
      for (const message of messages) {
        const length = message.range[1] - message.range[0];
        console.log(`  secretlint only: ${path} (${length}-character token; a key is 108)`);
      }
    }
    for (const path of ourPaths) {
      if (!theirs.value.has(join(corpus, path))) console.log(`  sluice only: ${path}`);
    }
  } finally {
    rmSync(corpus, { recursive: true, force: true });
  }
}

async function recall(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-fixture-'));
  try {
    const fixture = writeKeyFixture(dir);
    const ours = await scan({ cwd: dir, git: false });
    const files = [...new Set(fixture.keys.map((key) => key.path)), ...fixture.negativeFiles];
    const theirs = await secretlint(dir, files);
    const theirMessages = (path: string) => theirs.get(join(dir, path)) ?? [];

    console.log(`\nrecall on the fixture (${fixture.keys.length} real-shaped keys, ${KINDS.length} kinds):`);
    console.log('kind      sluice         secretlint');
    const totals = { ours: 0, theirs: 0, missedByUsFoundByThem: 0 };
    for (const kind of KINDS) {
      const keys = fixture.keys.filter((key) => key.kind === kind);
      let found = 0;
      let foundByThem = 0;
      for (const key of keys) {
        const hint = `${key.key.slice(0, key.key.indexOf('-', 7) + 1)}`;
        const weFound = ours.findings.some(
          (f) =>
            f.path === key.path &&
            f.line === key.line &&
            f.hint.startsWith(hint) &&
            f.hint.endsWith(key.key.slice(-4)),
        );
        const theyFound = theirMessages(key.path).some((message) => message.message.endsWith(key.key));
        if (weFound) found++;
        if (theyFound) foundByThem++;
        if (theyFound && !weFound) totals.missedByUsFoundByThem++;
      }
      totals.ours += found;
      totals.theirs += foundByThem;
      console.log(`${kind.padEnd(9)} ${`${found}/${keys.length}`.padEnd(14)} ${foundByThem}/${keys.length}`);
    }
    const n = fixture.keys.length;
    console.log(
      `all       ${`${totals.ours}/${n} (${((100 * totals.ours) / n).toFixed(0)}%)`.padEnd(14)} ${totals.theirs}/${n} (${((100 * totals.theirs) / n).toFixed(0)}%)`,
    );
    const apiKeys = fixture.keys.filter((key) => key.kind === ('api' satisfies KeyKind));
    const theirApi = apiKeys.filter((key) =>
      theirMessages(key.path).some((m) => m.message.endsWith(key.key)),
    ).length;
    console.log(
      `API keys only (the shape secretlint's rule targets): sluice ${apiKeys.length}/${apiKeys.length}, secretlint ${theirApi}/${apiKeys.length}`,
    );
    console.log(`keys secretlint found that sluice missed: ${totals.missedByUsFoundByThem}`);
    const ourFalse = ours.findings.filter((f) => fixture.negativeFiles.includes(f.path)).length;
    const theirFalse = fixture.negativeFiles.reduce((sum, path) => sum + theirMessages(path).length, 0);
    console.log(
      `reports on look-alikes and placeholders (false positives): sluice ${ourFalse}, secretlint ${theirFalse}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await recall();
await throughput();
