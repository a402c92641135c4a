import { ConfigError } from '../config/load.js';
import { run } from './index.js';

run(process.argv).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    // Configuration errors already say the field and the fix; anything else gets its message only.
    const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`sluice: ${message}\n`);
    process.exit(2);
  },
);
