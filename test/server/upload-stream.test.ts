import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';

const MB = 1024 * 1024;
const UPLOAD_MB = 300;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    yaml: { limits: { enabled: false } },
    simulator: { uploadsDownloadable: true },
  });
});
afterAll(() => stack?.close());

/** The process's resident memory, sampled until stopped: the gateway, the simulator and the client all live here. */
function sampleRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

describe('a 300 MB file through the gateway', () => {
  it('streams up and down with flat memory', async () => {
    const boundary = 'sluice-upload-test';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    // One megabyte reused: the client itself allocates nothing per chunk.
    const chunk = Buffer.alloc(MB, 'sluice');
    async function* body() {
      yield head;
      for (let i = 0; i < UPLOAD_MB; i++) yield chunk;
      yield tail;
    }
    global.gc?.();
    const before = process.memoryUsage().rss;
    const upload = sampleRss();
    const response = await request(`${stack.gateway.url}/v1/files`, {
      method: 'POST',
      headers: {
        'x-api-key': stack.key,
        'anthropic-version': '2023-06-01',
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + UPLOAD_MB * MB + tail.length),
      },
      body: Readable.from(body()),
    });
    const file = (await response.body.json()) as { id: string; size_bytes: number };
    const uploadPeak = upload.stop();
    expect(response.statusCode).toBe(200);
    expect(file.size_bytes).toBe(UPLOAD_MB * MB);

    const download = sampleRss();
    const content = await request(`${stack.gateway.url}/v1/files/${file.id}/content`, {
      headers: { 'x-api-key': stack.key, 'anthropic-version': '2023-06-01' },
    });
    let received = 0;
    for await (const part of content.body) received += (part as Buffer).length;
    const downloadPeak = download.stop();
    expect(content.statusCode).toBe(200);
    expect(received).toBe(UPLOAD_MB * MB);

    const growth = (peak: number) => Math.round((peak - before) / MB);
    console.log(
      `${UPLOAD_MB} MB upload: RSS ${Math.round(before / MB)} MB before, peak ${Math.round(uploadPeak / MB)} MB (+${growth(uploadPeak)} MB); ` +
        `download: peak ${Math.round(downloadPeak / MB)} MB (+${growth(downloadPeak)} MB)`,
    );
    // Held in memory, the file alone would add 300 MB (twice: gateway and simulator share this process).
    expect(growth(uploadPeak)).toBeLessThan(UPLOAD_MB / 3);
    expect(growth(downloadPeak)).toBeLessThan(UPLOAD_MB / 3);
  }, 240_000);
});
