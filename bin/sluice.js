#!/usr/bin/env node
import { run } from '../dist/cli/index.js';

run(process.argv).catch((err) => {
  process.stderr.write(`sluice: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
