import { Writable } from 'node:stream';
import type { CommandIo } from '../../src/cli/scan.js';

/** Command input/output captured in memory, as a terminal would not be. */
export function memoryIo(
  cwd: string,
  env?: NodeJS.ProcessEnv,
): CommandIo & { out: () => string; err: () => string } {
  const sink = () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    return { stream, text: () => chunks.join('') };
  };
  const stdout = sink();
  const stderr = sink();
  return { cwd, env, stdout: stdout.stream, stderr: stderr.stream, out: stdout.text, err: stderr.text };
}
