/** `*` matches any run of characters; everything else is literal. Case-insensitive, whole string. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'i');
}

const cache = new Map<string, RegExp>();

function cachedGlob(glob: string): RegExp {
  let pattern = cache.get(glob);
  if (!pattern) {
    pattern = globToRegExp(glob);
    if (cache.size < 1000) cache.set(glob, pattern);
  }
  return pattern;
}

export function globMatcher(globs: string | readonly string[]): (value: string) => boolean {
  const patterns = (typeof globs === 'string' ? [globs] : globs).map(cachedGlob);
  return (value) => patterns.some((pattern) => pattern.test(value));
}
