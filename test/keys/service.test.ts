import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_KEY_NAMING } from '../../src/config/schema.js';
import { Authenticator } from '../../src/keys/authenticator.js';
import { hashVirtualKey } from '../../src/keys/format.js';
import { KeyError, KeyService } from '../../src/keys/service.js';
import { openStore, type Store } from '../../src/store/database.js';

let store: Store;
let now = 1_800_000_000_000;
let keys: KeyService;

beforeEach(async () => {
  store = await openStore('sqlite::memory:');
  keys = new KeyService(
    store.db,
    { naming: DEFAULT_KEY_NAMING, environments: ['development', 'production', 'ci'] },
    () => now,
  );
});
afterEach(() => store.close());

describe('KeyService', () => {
  it('stores only a hash and a hint, and shows the secret once', async () => {
    const { key, view } = await keys.create({
      name: 'prod-backend-v1',
      environment: 'production',
      maxTokens: 2048,
    });
    const rows = await store.db.selectFrom('virtual_keys').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(rows[0]!.key_hash).toBe(hashVirtualKey(key));
    expect(view.hint).toBe(`sk-sluice-…${key.slice(-4)}`);
    expect(JSON.stringify(await keys.list())).not.toContain(key);
  });

  it('refuses names that break the naming rule, showing the rule, and unknown environments', async () => {
    await expect(keys.create({ name: 'MyKey', environment: 'production' })).rejects.toThrow(
      /env-service-role/,
    );
    await expect(keys.create({ name: 'prod-backend-v1', environment: 'qa' })).rejects.toThrow(
      /unknown environment "qa"/,
    );
    await keys.create({ name: 'prod-backend-v1', environment: 'production' });
    await expect(keys.create({ name: 'prod-backend-v1', environment: 'production' })).rejects.toBeInstanceOf(
      KeyError,
    );
  });

  it('authenticates active keys and refuses revoked, expired, rotated-away and unknown ones', async () => {
    const auth = new Authenticator(keys, 0, () => now);
    const live = await keys.create({
      name: 'ci-runner-tests',
      environment: 'ci',
      models: ['claude-haiku-4-5'],
    });
    const expiring = await keys.create({
      name: 'dev-local-alice',
      environment: 'development',
      expiresAt: now + 1000,
    });
    const ok = await auth.authenticate(live.key);
    expect(ok).toMatchObject({
      ok: true,
      principal: { name: 'ci-runner-tests', environment: 'ci', models: ['claude-haiku-4-5'] },
    });
    const altered = `${live.key.slice(0, -1)}${live.key.endsWith('x') ? 'y' : 'x'}`;
    expect(await auth.authenticate(altered)).toEqual({ ok: false, reason: 'malformed' });
    expect(await auth.authenticate(undefined)).toEqual({ ok: false, reason: 'missing' });

    now += 1000;
    expect(await auth.authenticate(expiring.key)).toEqual({ ok: false, reason: 'expired' });

    const rotated = await keys.rotate('ci-runner-tests');
    expect(await auth.authenticate(live.key)).toEqual({ ok: false, reason: 'unknown' });
    expect((await auth.authenticate(rotated.key)).ok).toBe(true);

    await keys.revoke('ci-runner-tests');
    expect(await auth.authenticate(rotated.key)).toEqual({ ok: false, reason: 'revoked' });
    await auth.close();
  });

  it('keeps last-used time, written in batches', async () => {
    const auth = new Authenticator(keys, 5000, () => now);
    const { key } = await keys.create({ name: 'prod-api-main', environment: 'production' });
    await auth.authenticate(key);
    expect((await keys.get('prod-api-main')).lastUsedAt).toBeNull();
    await auth.flushLastUsed();
    expect((await keys.get('prod-api-main')).lastUsedAt).toBe(new Date(now).toISOString());
    await auth.close();
  });

  it('updates quotas and policy', async () => {
    await keys.create({ name: 'ci-runner-tests', environment: 'ci' });
    const view = await keys.update('ci-runner-tests', {
      rpm: 10,
      tpd: 100_000,
      maxTier: 'reasoning',
      allowAuto: false,
    });
    expect(view).toMatchObject({ rpm: 10, tpd: 100_000, maxTier: 'reasoning', allowAuto: false });
    await expect(keys.update('nope-nope-nope', { rpm: 1 })).rejects.toThrow(/no key named/);
  });
});

describe('Authenticator while the key store is away', () => {
  it('keeps the last known state of a key seen before; a key never seen cannot be judged', async () => {
    const { key } = await keys.create({ name: 'prod-backend-v1', environment: 'production' });
    const { key: other } = await keys.create({ name: 'prod-backend-v2', environment: 'production' });
    const authenticator = new Authenticator(keys, 1000, () => now);
    expect(await authenticator.authenticate(key)).toMatchObject({ ok: true });
    await store.db.schema.dropTable('virtual_keys').execute(); // every read of a key fails from now on
    now += 5000; // past the cache's time to live
    expect(await authenticator.authenticate(key)).toMatchObject({ ok: true });
    await expect(authenticator.authenticate(other)).rejects.toThrow();
    await authenticator.close();
  });
});

describe('Authenticator and the change feed', () => {
  it('serves a changed key from its cache until told, then drops only that key', async () => {
    const auth = new Authenticator(keys, 60_000, () => now);
    const changed = await keys.create({ name: 'prod-backend-v1', environment: 'production' });
    const other = await keys.create({ name: 'prod-backend-v2', environment: 'production' });
    expect(await auth.authenticate(changed.key)).toMatchObject({ ok: true });
    expect(await auth.authenticate(other.key)).toMatchObject({ ok: true });
    await keys.revoke('prod-backend-v1');
    // Cached: a hit is answered synchronously, without the store.
    expect(auth.authenticate(changed.key)).toMatchObject({ ok: true });
    auth.forget(changed.view.id);
    expect(await auth.authenticate(changed.key)).toEqual({ ok: false, reason: 'revoked' });
    expect(auth.authenticate(other.key)).toMatchObject({ ok: true }); // still cached
    await auth.close();
  });

  it('does not cache a row read while a key changed (it may predate the change)', async () => {
    const auth = new Authenticator(keys, 60_000, () => now);
    const { key, view } = await keys.create({ name: 'prod-backend-v1', environment: 'production' });
    const reading = auth.authenticate(key);
    expect(reading).toBeInstanceOf(Promise);
    auth.forget(view.id);
    expect(await reading).toMatchObject({ ok: true });
    expect(auth.authenticate(key)).toBeInstanceOf(Promise); // read again, not served from the cache
    await auth.close();
  });

  it('puts every key change on the feed, in the transaction that made it', async () => {
    const { view } = await keys.create({ name: 'prod-backend-v1', environment: 'production' });
    await keys.update('prod-backend-v1', { rpm: 5 });
    await keys.rotate('prod-backend-v1');
    await keys.revoke('prod-backend-v1');
    await keys.revoke('prod-backend-v1'); // already revoked: no change
    const changes = await store.db.selectFrom('changes').selectAll().orderBy('seq').execute();
    expect(changes.map((c) => [c.kind, c.subject])).toEqual(Array(4).fill(['key', view.id]));
  });
});

describe('developer keys and short-lived keys', () => {
  const policy = {
    naming: DEFAULT_KEY_NAMING,
    environments: ['development'],
    shortLived: { defaultTtlMs: 60_000, maxTtlMs: 120_000, maxActive: 3 },
  };

  it('buys short-lived keys that act as their credential and end with it', async () => {
    const service = new KeyService(store.db, policy, () => now);
    const { key: credential, view } = await service.create({
      name: 'claude-code-dana-helper',
      environment: 'development',
      developer: 'dana',
      kind: 'exchange',
      models: ['claude-haiku-4-5'],
      guards: { session: { rpm: 30 } },
    });
    const authenticator = new Authenticator(service, 30_000, () => now);
    expect(await authenticator.authenticate(credential)).toEqual({ ok: false, reason: 'exchange_only' });

    const bought = await service.exchange(credential);
    expect(bought.ttlMs).toBe(60_000);
    const result = await authenticator.authenticate(bought.key);
    expect(result).toMatchObject({
      ok: true,
      principal: {
        keyId: view.id,
        name: 'claude-code-dana-helper',
        developer: 'dana',
        models: ['claude-haiku-4-5'],
        guards: { session: { rpm: 30 } },
      },
    });
    // Its own settings cannot be changed, nor its secret rotated: the credential's apply.
    await expect(service.update(bought.view.name, { rpm: 5 })).rejects.toThrow(
      /acts with its credential's settings/,
    );
    await expect(service.rotate(bought.view.name)).rejects.toThrow(/short-lived/);

    // Expiry, to the millisecond, also from the cache (the row was read a millisecond before).
    now += 59_999;
    expect((await authenticator.authenticate(bought.key)).ok).toBe(true);
    now += 1;
    expect(authenticator.authenticate(bought.key)).toEqual({ ok: false, reason: 'expired' });

    // The credential's expiry bounds the keys it buys; its revocation ends them.
    await service.update('claude-code-dana-helper', { expiresAt: now + 10_000 });
    const capped = await service.exchange(credential, 120_000);
    expect(capped.ttlMs).toBe(10_000);
    await expect(service.exchange(credential, 120_001)).rejects.toThrow(/above the cap of 120 s/);
    const other = await service.exchange(credential);
    await service.exchange(credential);
    await expect(service.exchange(credential)).rejects.toMatchObject({ status: 429 });
    expect(((await authenticator.authenticate(other.key)) as { ok: boolean }).ok).toBe(true);
    await service.revoke('claude-code-dana-helper');
    authenticator.forget(view.id);
    expect(await authenticator.authenticate(other.key)).toEqual({ ok: false, reason: 'revoked' });
    await expect(service.exchange(credential)).rejects.toMatchObject({ status: 401 });
    await authenticator.close();
  });
});
