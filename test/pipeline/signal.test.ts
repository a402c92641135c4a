import { describe, expect, it } from 'vitest';
import { CallSignal } from '../../src/pipeline/signal.js';

describe('CallSignal', () => {
  it('aborts once, keeps the reason, calls each listener once and honours removal like AbortSignal', () => {
    const signal = new CallSignal();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    signal.addEventListener('abort', () => calls.push('once'), { once: true });
    signal.addEventListener('abort', () => calls.push('always'));
    signal.addEventListener('abort', removed);
    signal.removeEventListener('abort', removed);
    expect(signal.listenerCount()).toBe(2);
    expect(signal.aborted).toBe(false);
    const reason = new Error('client closed the connection');
    signal.abort(reason);
    signal.abort(new Error('again'));
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(calls).toEqual(['once', 'always']);
    // Nothing is kept once it fired, and a late listener is not called (nor kept).
    signal.addEventListener('abort', () => calls.push('late'));
    expect(signal.listenerCount()).toBe(0);
    expect(calls).toEqual(['once', 'always']);
  });
});
