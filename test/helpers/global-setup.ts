import { deleteRedisKeys, runRedisPrefix } from './services.js';

/**
 * One run id for every test worker (each derives its databases and Redis prefix from it), and,
 * when the run ends, its Redis keys removed: tests that stop a store mid-way leave keys behind.
 */
export default function setup(): () => Promise<void> {
  process.env.SLUICE_TEST_RUN_ID ??= `dev${process.pid}`;
  const prefix = runRedisPrefix(process.env.SLUICE_TEST_RUN_ID);
  return async () => {
    await deleteRedisKeys(prefix);
  };
}
