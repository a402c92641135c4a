import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { httpResponder } from '../../src/server/http-io.js';

/** Just enough of a ServerResponse for waiting on backpressure. */
function fakeResponse(): EventEmitter & { destroyed: boolean } {
  return Object.assign(new EventEmitter(), { destroyed: false });
}

describe('waiting for drain', () => {
  it('leaves no listener behind, however often a stream waits', async () => {
    const res = fakeResponse();
    const responder = httpResponder(res as unknown as ServerResponse);
    for (let i = 0; i < 50; i++) {
      const waiting = responder.drained();
      res.emit('drain');
      await waiting;
    }
    expect([res.listenerCount('drain'), res.listenerCount('close'), res.listenerCount('error')]).toEqual([
      0, 0, 0,
    ]);
  });

  it('ends the wait when the client goes away, and leaves nothing behind then either', async () => {
    const res = fakeResponse();
    const waiting = httpResponder(res as unknown as ServerResponse).drained();
    res.emit('close');
    await waiting;
    expect([res.listenerCount('drain'), res.listenerCount('close')]).toEqual([0, 0]);
  });
});
