import { runServeThread, servesInThread } from './serve-thread.js';

// `sluice serve` as one process: the gateway runs in a thread of its own (see serve-thread.ts),
// and this thread loads nothing more.
if (servesInThread(process.argv)) runServeThread(new URL(import.meta.url), process.argv);
else {
  const { run } = await import('./index.js');
  run(process.argv).then(
    (code) => {
      if (code !== undefined) process.exitCode = code;
    },
    (error: unknown) => {
      // Configuration errors already say the field and the fix; anything else gets its message only.
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`sluice: ${message}\n`);
      process.exit(2);
    },
  );
}
