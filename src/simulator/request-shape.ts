/**
 * The Messages request as the official SDK's types define it (generated into
 * `request-shape.generated.ts` by `request-shape-gen.ts`). `ga` is what a request may carry
 * without an `anthropic-beta` header; `beta` adds what the beta types know.
 */
export interface Fields {
  required: string[];
  optional: string[];
}

export interface Namespace {
  body: Fields;
  countTokens: Fields;
  /** By role: the message's fields and the content block tags it may carry. */
  roles: Record<string, Fields & { content: string[] }>;
  contentBlocks: string[];
  systemBlocks: string[];
  thinking: string[];
  toolChoice: string[];
  effort: string[];
}

export interface RequestShape {
  sdkVersion: string;
  ga: Namespace;
  beta: Namespace;
}
