import { describe, expect, it } from 'vitest';
import { findExposedVariables } from '../../src/secrets/exposure.js';

// Names are put together at run time so that this file itself holds no exposure.
const NEXT = ['NEXT', 'PUBLIC', 'ANTHROPIC', 'API', 'KEY'].join('_');
const VITE = ['VITE', 'CLAUDE', 'TOKEN'].join('_');
const names = (text: string) => findExposedVariables(Buffer.from(text)).map((v) => v.name);

describe('public-env exposures', () => {
  it.each([
    ['.env assignment', `${NEXT}=sk-ant-api03-x\n`],
    ['shell export', `export ${NEXT}="x"\n`],
    ['empty assignment', `${NEXT}=\n`],
    ['YAML entry', `env:\n  ${NEXT}: value\n`],
    ['JSON entry', `{"${NEXT}": "x"}`],
    ['object literal', `const env = { ${NEXT}: process.env.X }`],
    ['list item', `- ${NEXT}: x`],
    ['process.env read', `const k = process.env.${NEXT};`],
    ['import.meta.env read', `fetch(u, { headers: { k: import.meta.env.${NEXT} } })`],
    ['index read', `const k = process.env["${NEXT}"];`],
    ['getenv call', `k = os.getenv('${NEXT}')`],
    ['shell expansion', `curl -H "x-api-key: $${NEXT}"`],
    ['braced expansion', `key: \${${NEXT}}`],
  ])('reports a %s', (_label, text) => {
    expect(names(text)).toEqual([NEXT]);
  });

  it.each([
    ['a sentence', `Never name a variable ${NEXT}: the bundler publishes it.`],
    ['inline code in Markdown', `Variables such as \`${NEXT}\` or \`${VITE}\` are public.`],
    ['a table cell', `| public-env-exposure | \`${NEXT}\`, \`${VITE}…\` |`],
    ['a comparison', `if (name == ${NEXT}) {}`],
    ['a heading', `## Why ${NEXT} leaks`],
  ])('does not report a name in %s', (_label, text) => {
    expect(names(text)).toEqual([]);
  });
});
