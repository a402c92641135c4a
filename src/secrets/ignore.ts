/**
 * Ignore patterns for `sluice scan`, in .gitignore's spirit: `*` stays inside a path segment,
 * `**` crosses segments, a pattern without `/` matches a name at any depth, and a pattern that
 * names a directory covers everything below it.
 */
function patternToRegExp(pattern: string): RegExp {
  let glob = pattern.trim().replace(/^\.\//, '');
  const anchored = glob.startsWith('/') || glob.slice(0, -1).includes('/');
  glob = glob.replace(/^\//, '').replace(/\/$/, '');
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '*' && glob[i + 1] === '*') {
      const slashAfter = glob[i + 2] === '/';
      source += slashAfter ? '(?:.*/)?' : '.*';
      i += slashAfter ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${anchored ? '' : '(?:.*/)?'}${source}(?:/.*)?$`);
}

export type PathFilter = (path: string) => boolean;

/** True for paths (forward slashes, relative to the scan root) that match any pattern. */
export function ignoreMatcher(patterns: string[]): PathFilter {
  const expressions = patterns.filter((pattern) => pattern.trim() !== '').map(patternToRegExp);
  return (path) => {
    const normalized = path.split('\\').join('/');
    return expressions.some((expression) => expression.test(normalized));
  };
}
