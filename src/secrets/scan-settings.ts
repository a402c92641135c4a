import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';

export const CONFIG_FILE = 'sluice.yaml';

/** The part of `sluice.yaml` the scanner reads: `scan.ignore` (path patterns). */
export async function readScanSettings(directory: string): Promise<{ ignore: string[] }> {
  let text: string;
  try {
    text = await readFile(join(directory, CONFIG_FILE), 'utf8');
  } catch {
    return { ignore: [] };
  }
  const document = (parse(text) ?? {}) as { scan?: { ignore?: unknown } };
  const ignore = document.scan?.ignore;
  if (ignore === undefined || ignore === null) return { ignore: [] };
  if (!Array.isArray(ignore) || !ignore.every((entry) => typeof entry === 'string')) {
    throw new Error(`${CONFIG_FILE}: scan.ignore must be a list of path patterns`);
  }
  return { ignore };
}
