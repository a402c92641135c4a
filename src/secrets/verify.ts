import { type Finding, secretOf, type Verification } from './finding.js';

export interface VerifyOptions {
  /** The configured upstream (Anthropic or a stand-in); keys are sent nowhere else. */
  upstreamUrl: string;
  timeoutMs?: number;
}

/** How a key of each kind authenticates; virtual keys are not Anthropic's to verify. */
function authHeaders(finding: Finding, secret: string): Record<string, string> | undefined {
  if (finding.rule === 'anthropic-api-key' || finding.rule === 'anthropic-admin-key')
    return { 'x-api-key': secret };
  if (finding.rule === 'anthropic-oauth-token') return { authorization: `Bearer ${secret}` };
  return undefined;
}

async function probe(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<Verification> {
  try {
    const response = await fetch(url, {
      headers: { ...headers, 'anthropic-version': '2023-06-01' },
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
    await response.body?.cancel();
    if (response.status === 200) return 'live';
    if (response.status === 401) return 'dead';
    return 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Asks the upstream whether each found key is live: `GET /v1/models` answers 200 for a working
 * key and 401 for a revoked one; anything else (network error, 403, 429, 5xx) stays unknown.
 * Each distinct key is sent once. Redirects are refused so a key never leaves that host.
 */
export async function verifyFindings(findings: Finding[], options: VerifyOptions): Promise<void> {
  const url = new URL('/v1/models', options.upstreamUrl);
  const bySecret = new Map<string, Promise<Verification>>();
  await Promise.all(
    findings.map(async (finding) => {
      const secret = secretOf(finding);
      if (secret === undefined) return;
      const headers = authHeaders(finding, secret);
      if (!headers) {
        finding.verification = 'unknown';
        return;
      }
      let verdict = bySecret.get(secret);
      if (!verdict) {
        verdict = probe(url, headers, options.timeoutMs ?? 10_000);
        bySecret.set(secret, verdict);
      }
      finding.verification = await verdict;
    }),
  );
}
