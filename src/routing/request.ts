/** The request body type is the pipeline's; routing only reads it. */
export type { MessagesRequestBody } from '../pipeline/types.js';

/** A content block as routing reads it: lenient, unknown block types pass untouched. */
export interface ContentBlock {
  type: string;
  text?: string;
  content?: unknown;
  [field: string]: unknown;
}
