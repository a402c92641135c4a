import { type Logger, pino } from 'pino';

// Anything shaped like an Anthropic key or a Sluice virtual key, wherever it appears in a line.
const KEY_SHAPED = /sk-(?:ant-[a-z0-9]+-|sluice-)[A-Za-z0-9_-]{8,}/g;

/** Replaces every key-shaped string with its prefix and last four characters. */
export function redactKeys(text: string): string {
  return text.replace(
    KEY_SHAPED,
    (key) => `${key.slice(0, key.startsWith('sk-sluice-') ? 10 : key.indexOf('-', 7) + 1)}…${key.slice(-4)}`,
  );
}

/** JSON lines on stdout (or the given stream), each line passed through key redaction. */
export function createLogger(level: string, destination: NodeJS.WritableStream = process.stdout): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: redactKeys },
    },
    destination,
  );
}
