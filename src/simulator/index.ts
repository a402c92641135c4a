import type { AddressInfo } from 'node:net';
import type { RateLimits } from '../catalog/schema.js';
import type { BatchTiming } from './batches.js';
import type { SimulatorCounters } from './counters.js';
import type { FaultRates, FaultSpec } from './faults.js';
import { createSimulatorServer } from './server.js';
import { type SimulatorOptions, SimulatorState } from './state.js';

export type { BatchTiming } from './batches.js';
export { type Clock, ManualClock, ScaledClock, systemClock } from './clock.js';
export type { SimulatorCounters } from './counters.js';
export type { FaultRates, FaultSpec } from './faults.js';
export type { LatencyOption, LatencyProfile } from './latency.js';
export type { LimitSpec } from './rate-limits.js';
export type { SimulatorOptions } from './state.js';
export { countTextTokens } from './tokens.js';

export interface SimulatorFaults {
  /** Replaces the script of the next responses to `POST /v1/messages`. */
  script(specs: FaultSpec[]): void;
  /** Adds to the script. */
  append(specs: FaultSpec[]): void;
  /** Random faults for requests the script does not cover, e.g. `{ '529': 0.1, reset: 0.01 }`. */
  setRates(rates: FaultRates): void;
  /** No script, no rates. */
  clear(): void;
  /** Scripted faults not yet used. */
  pending(): number;
}

export interface Simulator {
  /** Base URL without `/v1`, e.g. `http://127.0.0.1:41234` (what ANTHROPIC_BASE_URL takes). */
  url: string;
  port: number;
  host: string;
  faults: SimulatorFaults;
  /** Faults for Message Batches requests (a status fault makes that request's result `errored`). */
  batchFaults: SimulatorFaults;
  /** How long batches take to process and to cancel, in simulated time; applies to new batches. */
  setBatchTiming(timing: Partial<BatchTiming>): void;
  counters(): SimulatorCounters;
  resetCounters(): void;
  /** Counters, faults, prompt cache, rate-limit buckets and spend back to the start. */
  reset(): void;
  /** New limits for every model class (a tier name or explicit numbers), with full buckets. */
  setLimits(spec: { tier: string } | RateLimits): void;
  /** `undefined` removes the cap. */
  setSpendCap(usd: number | undefined): void;
  close(): Promise<void>;
}

/** Starts the Anthropic API simulator on loopback and resolves once it listens. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const state = new SimulatorState(options);
  const { server, shutdown } = createSimulatorServer(state);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    faults: {
      script: (specs) => state.faults.script(specs),
      append: (specs) => state.faults.append(specs),
      setRates: (rates) => state.faults.setRates(rates),
      clear: () => state.faults.clear(),
      pending: () => state.faults.pending(),
    },
    batchFaults: {
      script: (specs) => state.batchFaults.script(specs),
      append: (specs) => state.batchFaults.append(specs),
      setRates: (rates) => state.batchFaults.setRates(rates),
      clear: () => state.batchFaults.clear(),
      pending: () => state.batchFaults.pending(),
    },
    setBatchTiming: (timing) => state.batches.setTiming(timing),
    counters: () => state.counters.snapshot(state.spend.spentUsd),
    resetCounters: () => state.counters.reset(),
    reset: () => state.resetAll(),
    setLimits: (spec) => state.setLimits(spec),
    setSpendCap: (usd) => state.spend.setCap(usd),
    close: shutdown,
  };
}
