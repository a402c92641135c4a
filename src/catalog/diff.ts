import type { CatalogDocument, ModelInfo, PriceEntry } from './schema.js';

/** One field that differs: its name and both values (absent as null). */
export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface EntryChange {
  /** Model id, `model@from` for a price, tier name or pool id. */
  id: string;
  changes: FieldChange[];
}

export interface CatalogDiff {
  from: string;
  to: string;
  models: { added: ModelInfo[]; removed: string[]; changed: EntryChange[] };
  /** Prices are keyed by model and effective date: a new date is a price added, not changed. */
  prices: { added: PriceEntry[]; removed: string[]; changed: EntryChange[] };
  tiers: { added: string[]; removed: string[]; changed: EntryChange[] };
  pools: { added: string[]; removed: string[]; changed: EntryChange[] };
  /** Top-level settings: routing defaults, default tier, multipliers, server-tool fees. */
  settings: FieldChange[];
}

// Bookkeeping that changes with every check; it would drown the changes that matter.
const IGNORED = new Set(['source', 'checked', 'unconfirmed']);

/** Leaf fields that differ between two JSON values, as dotted paths. */
function fieldChanges(a: unknown, b: unknown, prefix = ''): FieldChange[] {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys
      .filter((key) => !IGNORED.has(key))
      .flatMap((key) => fieldChanges(a[key], b[key], prefix ? `${prefix}.${key}` : key));
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  return [{ field: prefix, from: a ?? null, to: b ?? null }];
}

function entries<T>(
  before: T[],
  after: T[],
  key: (item: T) => string,
): { added: T[]; removed: string[]; changed: EntryChange[] } {
  const old = new Map(before.map((item) => [key(item), item]));
  const now = new Map(after.map((item) => [key(item), item]));
  const added = after.filter((item) => !old.has(key(item)));
  const removed = [...old.keys()].filter((id) => !now.has(id));
  const changed: EntryChange[] = [];
  for (const [id, item] of now) {
    const previous = old.get(id);
    if (previous === undefined) continue;
    const changes = fieldChanges(previous, item);
    if (changes.length > 0) changed.push({ id, changes });
  }
  return { added, removed, changed };
}

const priceKey = (p: PriceEntry) => `${p.model}@${p.from}`;

/** What installing `after` in place of `before` changes. */
export function diffCatalogs(before: CatalogDocument, after: CatalogDocument): CatalogDiff {
  const tiers = entries(before.tiers, after.tiers, (t) => t.name);
  const pools = entries(before.pools, after.pools, (p) => p.id);
  const pick = (doc: CatalogDocument) => ({
    routing: doc.routing,
    defaultTier: doc.defaultTier,
    multipliers: doc.multipliers,
    serverTools: doc.serverTools,
    uploads: doc.uploads,
  });
  return {
    from: before.version,
    to: after.version,
    models: entries(before.models, after.models, (m) => m.id),
    prices: entries(before.prices, after.prices, priceKey),
    tiers: { ...tiers, added: tiers.added.map((t) => t.name) },
    pools: { ...pools, added: pools.added.map((p) => p.id) },
    settings: fieldChanges(pick(before), pick(after)),
  };
}

export function isEmptyDiff(diff: CatalogDiff): boolean {
  const sections = [diff.models, diff.prices, diff.tiers, diff.pools];
  return (
    diff.settings.length === 0 &&
    sections.every((s) => s.added.length === 0 && s.removed.length === 0 && s.changed.length === 0)
  );
}

const show = (value: unknown) =>
  value === null ? '(none)' : typeof value === 'string' ? value : JSON.stringify(value);
const changeText = (c: FieldChange) => `${c.field} ${show(c.from)} → ${show(c.to)}`;
const rates = (p: Pick<PriceEntry, 'input' | 'output' | 'cacheRead'>) =>
  `input ${p.input}, output ${p.output}, cache read ${p.cacheRead}`;

/** The diff as text, one line per change, grouped by section. */
export function formatDiff(diff: CatalogDiff): string {
  const lines = [`Catalog ${diff.from} → ${diff.to}`];
  if (isEmptyDiff(diff)) return `${lines[0]}: no change to models, prices, tiers or pools`;
  const section = (title: string, body: string[]) => {
    if (body.length > 0) lines.push('', `${title}:`, ...body.map((line) => `  ${line}`));
  };
  const changed = (list: EntryChange[]) =>
    list.map((entry) => `~ ${entry.id}: ${entry.changes.map(changeText).join('; ')}`);
  section('Models', [
    ...diff.models.added.map(
      (m) =>
        `+ ${m.id} (${m.status}, context ${m.contextWindow.toLocaleString('en-US')}, max output ${m.maxOutputTokens.toLocaleString('en-US')})`,
    ),
    ...diff.models.removed.map((id) => `- ${id}`),
    ...changed(diff.models.changed),
  ]);
  section('Prices (USD per million tokens)', [
    ...diff.prices.added.map((p) => `+ ${p.model} from ${p.from}: ${rates(p)}`),
    ...diff.prices.removed.map((id) => `- ${id.replace('@', ' from ')}`),
    ...diff.prices.changed.map(
      (e) => `~ ${e.id.replace('@', ' from ')}: ${e.changes.map(changeText).join('; ')}`,
    ),
  ]);
  section('Tiers', [
    ...diff.tiers.added.map((name) => `+ ${name}`),
    ...diff.tiers.removed.map((name) => `- ${name}`),
    ...changed(diff.tiers.changed),
  ]);
  section('Pools', [
    ...diff.pools.added.map((id) => `+ ${id}`),
    ...diff.pools.removed.map((id) => `- ${id}`),
    ...changed(diff.pools.changed),
  ]);
  section('Settings', diff.settings.map(changeText));
  return lines.join('\n');
}
