/**
 * Documentation writes keys of the right length that are obviously not keys:
 * `sk-ant-api03-xxxx…xxAA`, `sk-ant-api03-YOUR_KEY_HERE_…`. A real key body is 93 random base64url
 * characters (about 50 distinct ones); these bodies are repetitive or spell a placeholder word.
 */
const PLACEHOLDER_WORDS =
  /example|placeholder|replace|your[_-]?(api|key|token|own)|insert|redacted|dummy|xxxxx/i;
const MIN_DISTINCT_CHARACTERS = 16;

export function isPlaceholderBody(body: string): boolean {
  if (new Set(body).size < MIN_DISTINCT_CHARACTERS) return true;
  return PLACEHOLDER_WORDS.test(body);
}
