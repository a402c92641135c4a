import type { Authentication, Authenticator } from '../keys/authenticator.js';
import { ApiError } from './errors.js';
import type { Stage } from './stage.js';
import type { Call } from './types.js';

const REASONS = {
  missing: 'x-api-key header is required (a Sluice virtual key, sk-sluice-…)',
  malformed: 'invalid x-api-key: not a Sluice virtual key',
  unknown: 'invalid x-api-key',
  revoked: 'this API key has been revoked',
  expired: 'this API key has expired',
  exchange_only:
    'this is an exchange credential: it only buys short-lived keys (POST /sluice/v1/keys/exchange, or sluice keys exchange)',
} as const;

/** The key a client presented, from `x-api-key` or `Authorization: Bearer`. */
export function presentedKey(headers: Call['headers']): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey) return apiKey.trim();
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && /^bearer\s+/i.test(authorization))
    return authorization.replace(/^bearer\s+/i, '').trim();
  return undefined;
}

function admit(call: Call, result: Authentication): void {
  if (!result.ok) throw new ApiError(401, REASONS[result.reason]);
  call.principal = result.principal;
  if (result.principal.priority && !call.headers['x-sluice-priority'])
    call.priority = result.principal.priority;
}

export function authenticateStage(authenticator: Authenticator): Stage {
  return {
    name: 'authenticate',
    run(call) {
      const result = authenticator.authenticate(presentedKey(call.headers));
      if (result instanceof Promise)
        return result.then(
          (loaded) => admit(call, loaded),
          () => {
            throw new ApiError(503, 'the key store is unavailable; try again shortly');
          },
        );
      admit(call, result);
    },
  };
}
