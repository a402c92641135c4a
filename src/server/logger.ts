import { type DestinationStream, type Logger, pino } from 'pino';

// Anything shaped like an Anthropic key or a Sluice virtual key, wherever it appears in a line.
const KEY_SHAPED = /sk-(?:ant-[a-z0-9]+-|sluice-)[A-Za-z0-9_-]{8,}/g;

/** Replaces every key-shaped string with its prefix and last four characters. */
export function redactKeys(text: string): string {
  return text.replace(
    KEY_SHAPED,
    (key) => `${key.slice(0, key.startsWith('sk-sluice-') ? 10 : key.indexOf('-', 7) + 1)}…${key.slice(-4)}`,
  );
}

/**
 * JSON lines on stdout (or the given stream), each line passed through key redaction. Lines of
 * one event-loop turn are handed over together; stdout is written through a buffer (flushed at
 * 4 KiB, every second, and on `logger.flush()`), not one write per line.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream | DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: redactKeys },
    },
    new TurnBatcher(destination ?? bufferedStdout()),
  );
}

interface LineSink {
  write(text: string): unknown;
  flush?(callback?: (error?: Error | null) => void): void;
  flushSync?(): void;
}

/**
 * Hands the lines written during one turn of the event loop to `target` as one string. Under
 * load a turn ends several requests, and the buffered writer's cost is per write call (it
 * measures what it holds each time), not per byte. Order is kept.
 */
class TurnBatcher implements LineSink {
  private pending = '';
  private scheduled = false;

  constructor(private readonly target: LineSink) {}

  write(text: string): boolean {
    this.pending += text;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.handOver);
    }
    return true;
  }

  private readonly handOver = () => {
    this.scheduled = false;
    if (this.pending === '') return;
    const text = this.pending;
    this.pending = '';
    this.target.write(text);
  };

  flush(callback?: (error?: Error | null) => void): void {
    this.handOver();
    if (this.target.flush) this.target.flush(callback);
    else callback?.();
  }

  flushSync(): void {
    this.handOver();
    this.target.flushSync?.();
  }
}

/** Stdout through a 4 KiB buffer, flushed at least every second so a quiet gateway's lines still appear. */
function bufferedStdout() {
  const stdout = pino.destination({ dest: 1, minLength: 4096, sync: false });
  setInterval(() => {
    try {
      stdout.flush();
    } catch {
      // Nothing buffered, or a write already under way: the next tick or the next line flushes it.
    }
  }, 1000).unref();
  return stdout;
}

/**
 * Writes the one line per request: the same shape as the logger's lines
 * (`{"level":"info","time":…,…fields,"msg":"request"}`), redacted the same way, from the fields
 * already written as JSON text; this line is written for every request.
 */
export function requestLogWriter(logger: Logger): (fieldsJson: string) => void {
  const stream = (logger as unknown as Record<symbol, { write(line: string): void }>)[
    pino.symbols.streamSym
  ]!;
  // A child logger's bindings (a worker's id) lead each line, as pino puts them.
  const bound = JSON.stringify(logger.bindings()).slice(1, -1);
  const prefix = bound ? `${bound},` : '';
  // Requests finishing in the same millisecond share the time text.
  let lastMs = 0;
  let lastTime = '';
  return (fieldsJson) => {
    if (!logger.isLevelEnabled('info')) return;
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastTime = new Date(now).toISOString();
    }
    const fields = fieldsJson.length > 2 ? `${fieldsJson.slice(1, -1)},` : '';
    stream.write(redactKeys(`{"level":"info","time":"${lastTime}",${prefix}${fields}"msg":"request"}\n`));
  };
}
