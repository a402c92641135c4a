import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/schema.js';
import { KeyService, keyPolicy } from '../keys/service.js';
import { openStore, type Store } from '../store/database.js';

/** Options every command that reads configuration accepts. */
export interface ConfigFlags {
  config?: string;
}

export function loadForCommand(flags: ConfigFlags, requireUpstreamKey = false): LoadedConfig {
  const loaded = loadConfig({ configPath: flags.config, requireUpstreamKey });
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
  return loaded;
}

/** Runs `work` with the configured store open, and closes it afterwards. */
export async function withStore<T>(loaded: LoadedConfig, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(loaded.config.database.url);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

export function keyServiceFor(loaded: LoadedConfig, store: Store): KeyService {
  return new KeyService(store.db, keyPolicy(loaded.config));
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Parses a positive integer flag, naming the flag when it is not one. */
export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < 1)
      throw new Error(`${flag} takes a positive whole number, not "${value}"`);
    return Number(value);
  };
}
