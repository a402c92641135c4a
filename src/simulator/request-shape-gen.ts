/**
 * Writes `request-shape.generated.ts` from the official SDK's request types
 * (`@anthropic-ai/sdk` `resources/messages/messages.d.ts` and `resources/beta/messages/messages.d.ts`):
 * the Messages body's fields, the message roles and their fields, the content block and thinking
 * tags and the effort values. The simulator validates requests against that file, and a test
 * regenerates it from the installed SDK, so a field or role the SDK gains is accepted once the
 * file is regenerated (`npm run gen:request-shape`), and the test says when it must be.
 * Development only: it needs TypeScript, and is not part of the build.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { Fields, Namespace, RequestShape } from './request-shape.js';

const require = createRequire(import.meta.url);
// The package's main file sits at its root (its exports do not list package.json).
const sdkRoot = dirname(require.resolve('@anthropic-ai/sdk'));
const files = {
  ga: join(sdkRoot, 'resources/messages/messages.d.ts'),
  beta: join(sdkRoot, 'resources/beta/messages/messages.d.ts'),
};
export const generatedFile = join(dirname(fileURLToPath(import.meta.url)), 'request-shape.generated.ts');

/** Body params the SDK turns into something else on the wire (`betas` becomes the `anthropic-beta` header). */
const notOnTheWire = new Set(['betas']);

/** The shape read from the installed SDK's type files. */
export function buildRequestShape(): RequestShape {
  const program = ts.createProgram([files.ga, files.beta], { skipLibCheck: true, noEmit: true });
  const checker = program.getTypeChecker();
  const exportsOf = (file: string) => {
    const source = program.getSourceFile(file);
    const symbol = source && checker.getSymbolAtLocation(source);
    if (!symbol) throw new Error(`cannot read ${file}`);
    return new Map(checker.getExportsOfModule(symbol).map((s) => [s.name, s]));
  };
  const typeNamed = (exported: Map<string, ts.Symbol>, name: string): ts.Type => {
    const symbol = exported.get(name);
    if (!symbol) throw new Error(`the SDK has no type ${name}`);
    return checker.getDeclaredTypeOfSymbol(symbol);
  };
  const members = (type: ts.Type): ts.Type[] => (type.isUnion() ? type.types : [type]);
  const propertyType = (type: ts.Type, name: string): ts.Type | undefined => {
    const property = type.getProperty(name);
    return property ? checker.getTypeOfSymbol(property) : undefined;
  };
  const literals = (type: ts.Type | undefined): string[] =>
    type
      ? members(type)
          .filter((t): t is ts.StringLiteralType => t.isStringLiteral())
          .map((t) => t.value)
      : [];
  const sorted = (values: Iterable<string>) => [...new Set(values)].sort();
  const fields = (type: ts.Type): Fields => {
    const required: string[] = [];
    const optional: string[] = [];
    for (const property of type.getProperties()) {
      if (notOnTheWire.has(property.name)) continue;
      (property.flags & ts.SymbolFlags.Optional ? optional : required).push(property.name);
    }
    return { required: sorted(required), optional: sorted(optional) };
  };
  /** The `type` tags of the elements of an array-typed member (content lists). */
  const elementTags = (type: ts.Type | undefined): string[] => {
    const tags: string[] = [];
    for (const member of type ? members(type) : []) {
      const element = checker.isArrayType(member)
        ? checker.getTypeArguments(member as ts.TypeReference)[0]
        : undefined;
      for (const block of element ? members(element) : [])
        tags.push(...literals(propertyType(block, 'type')));
    }
    return sorted(tags);
  };
  const namespace = (file: string, names: Record<string, string>): Namespace => {
    const exported = exportsOf(file);
    const type = (key: string) => typeNamed(exported, names[key]!);
    const roles: Namespace['roles'] = {};
    for (const message of members(type('message'))) {
      for (const role of literals(propertyType(message, 'role'))) {
        roles[role] = { ...fields(message), content: elementTags(propertyType(message, 'content')) };
      }
    }
    const tagsOf = (key: string) =>
      sorted(members(type(key)).flatMap((member) => literals(propertyType(member, 'type'))));
    return {
      body: fields(type('body')),
      countTokens: fields(type('countTokens')),
      roles,
      contentBlocks: tagsOf('contentBlock'),
      systemBlocks: elementTags(propertyType(type('body'), 'system')),
      thinking: tagsOf('thinking'),
      toolChoice: tagsOf('toolChoice'),
      effort: sorted(literals(propertyType(type('outputConfig'), 'effort'))),
    };
  };
  const version = (JSON.parse(readFileSync(join(sdkRoot, 'package.json'), 'utf8')) as { version: string })
    .version;
  return {
    sdkVersion: version,
    ga: namespace(files.ga, {
      body: 'MessageCreateParamsBase',
      countTokens: 'MessageCountTokensParams',
      message: 'MessageParam',
      contentBlock: 'ContentBlockParam',
      thinking: 'ThinkingConfigParam',
      toolChoice: 'ToolChoice',
      outputConfig: 'OutputConfig',
    }),
    beta: namespace(files.beta, {
      body: 'MessageCreateParamsBase',
      countTokens: 'MessageCountTokensParams',
      message: 'BetaMessageParam',
      contentBlock: 'BetaContentBlockParam',
      thinking: 'BetaThinkingConfigParam',
      toolChoice: 'BetaToolChoice',
      outputConfig: 'BetaOutputConfig',
    }),
  };
}

/** The text of the generated file for the installed SDK. */
export function generatedText(): string {
  return (
    '// Generated by src/simulator/request-shape-gen.ts from @anthropic-ai/sdk type files; do not edit.\n' +
    '// Regenerate with `npm run gen:request-shape` when the SDK is updated.\n' +
    `import type { RequestShape } from './request-shape.js';\n\n` +
    `export const requestShape: RequestShape = ${JSON.stringify(buildRequestShape(), null, 2)};\n`
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(generatedFile, generatedText());
  process.stdout.write(`wrote ${generatedFile}\n`);
}
