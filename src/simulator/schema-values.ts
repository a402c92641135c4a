import type { Rng } from './random.js';
import type { JsonSchema } from './types.js';
import { fillerWords } from './words.js';

const maxDepth = 8;

/**
 * A value that conforms to a JSON schema: required properties only, types, enums, consts,
 * bounds, array sizes, formats and local `$ref`s. Patterns are not attempted.
 */
export function valueForSchema(schema: JsonSchema, rng: Rng, root: JsonSchema = schema, depth = 0): unknown {
  const resolved = resolveRef(schema, root);
  if ('const' in resolved) return resolved.const;
  if (Array.isArray(resolved.enum) && resolved.enum.length > 0) return rng.pick(resolved.enum);
  if ('default' in resolved && resolved.default !== undefined) return resolved.default;
  const variants = (resolved.anyOf ?? resolved.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(variants) && variants.length > 0) {
    const usable = variants.find((v) => v.type !== 'null') ?? variants[0]!;
    return valueForSchema(usable, rng, root, depth + 1);
  }
  if (Array.isArray(resolved.allOf) && resolved.allOf.length > 0) {
    const merged = Object.assign({}, ...(resolved.allOf as JsonSchema[]).map((s) => resolveRef(s, root)));
    return valueForSchema(merged, rng, root, depth + 1);
  }
  switch (schemaType(resolved)) {
    case 'string':
      return stringValue(resolved, rng);
    case 'integer':
      return integerValue(resolved, rng);
    case 'number':
      return numberValue(resolved, rng);
    case 'boolean':
      return rng.next() < 0.5;
    case 'null':
      return null;
    case 'array':
      return arrayValue(resolved, rng, root, depth);
    default:
      return objectValue(resolved, rng, root, depth);
  }
}

function resolveRef(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  for (let hops = 0; typeof current.$ref === 'string' && hops < maxDepth; hops++) {
    const ref = current.$ref as string;
    if (!ref.startsWith('#/')) return {};
    let target: unknown = root;
    for (const part of ref.slice(2).split('/')) {
      target = (target as Record<string, unknown> | undefined)?.[
        part.replace(/~1/g, '/').replace(/~0/g, '~')
      ];
    }
    current = (target as JsonSchema | undefined) ?? {};
  }
  return current;
}

function schemaType(schema: JsonSchema): string {
  const type = schema.type;
  if (Array.isArray(type)) return (type.find((t) => t !== 'null') as string | undefined) ?? 'null';
  if (typeof type === 'string') return type;
  if (schema.properties) return 'object';
  if (schema.items) return 'array';
  return 'object';
}

function stringValue(schema: JsonSchema, rng: Rng): string {
  switch (schema.format) {
    case 'date-time':
      return '2026-01-15T12:00:00Z';
    case 'date':
      return '2026-01-15';
    case 'time':
      return '12:00:00';
    case 'email':
      return `${rng.pick(fillerWords)}@example.com`;
    case 'uri':
    case 'url':
      return `https://example.com/${rng.pick(fillerWords)}`;
    case 'uuid':
      return '123e4567-e89b-42d3-a456-426614174000';
  }
  const minLength = typeof schema.minLength === 'number' ? schema.minLength : 1;
  const maxLength = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
  let text = rng.pick(fillerWords);
  for (let words = rng.int(0, 2); words > 0; words--) text += ` ${rng.pick(fillerWords)}`;
  while (text.length < minLength) text += ` ${rng.pick(fillerWords)}`;
  return text.slice(0, Math.max(minLength, Math.min(maxLength, text.length)));
}

function bounds(schema: JsonSchema): { low: number; high: number } {
  let low = typeof schema.minimum === 'number' ? schema.minimum : 0;
  let high = typeof schema.maximum === 'number' ? schema.maximum : Math.max(low, 0) + 100;
  if (typeof schema.exclusiveMinimum === 'number') low = Math.max(low, schema.exclusiveMinimum);
  if (typeof schema.exclusiveMaximum === 'number') high = Math.min(high, schema.exclusiveMaximum);
  if (high < low) high = low;
  return { low, high };
}

function integerValue(schema: JsonSchema, rng: Rng): number {
  const { low, high } = bounds(schema);
  let min = Math.ceil(low);
  let max = Math.floor(high);
  if (typeof schema.exclusiveMinimum === 'number' && min === schema.exclusiveMinimum) min++;
  if (typeof schema.exclusiveMaximum === 'number' && max === schema.exclusiveMaximum) max--;
  if (max < min) max = min;
  const step = typeof schema.multipleOf === 'number' && schema.multipleOf > 0 ? schema.multipleOf : 1;
  const value = rng.int(min, max);
  return Math.min(max, Math.ceil(value / step) * step);
}

function numberValue(schema: JsonSchema, rng: Rng): number {
  const { low, high } = bounds(schema);
  const value = Math.min(Math.max(Math.round((low + rng.next() * (high - low)) * 100) / 100, low), high);
  const tooLow = typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum;
  const tooHigh = typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum;
  return tooLow || tooHigh ? (low + high) / 2 : value;
}

function arrayValue(schema: JsonSchema, rng: Rng, root: JsonSchema, depth: number): unknown[] {
  if (depth >= maxDepth) return [];
  const items = (schema.items ?? {}) as JsonSchema;
  const minItems = typeof schema.minItems === 'number' ? schema.minItems : 1;
  const maxItems = typeof schema.maxItems === 'number' ? schema.maxItems : Math.max(minItems, 2);
  const count = Math.min(Math.max(minItems, 1), maxItems);
  const values: unknown[] = [];
  for (let i = 0; i < count; i++) {
    let value = valueForSchema(items, rng, root, depth + 1);
    // Unique items: retry a few times, then fall back to the position as a distinguishing string.
    for (let tries = 0; schema.uniqueItems && tries < 5 && contains(values, value); tries++) {
      value = valueForSchema(items, rng, root, depth + 1);
    }
    values.push(value);
  }
  return values;
}

function contains(values: unknown[], value: unknown): boolean {
  const key = JSON.stringify(value);
  return values.some((v) => JSON.stringify(v) === key);
}

function objectValue(schema: JsonSchema, rng: Rng, root: JsonSchema, depth: number): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  if (depth >= maxDepth) return result;
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  for (const name of required) {
    result[name] = valueForSchema(properties[name] ?? {}, rng, root, depth + 1);
  }
  return result;
}
