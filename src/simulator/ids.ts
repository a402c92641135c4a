import { base62String } from './random.js';

/** Identifiers shaped like the real service's (`req_011C…`, `msg_01…`, `toolu_01…`). */
export function requestId(): string {
  return `req_011C${base62String(20)}`;
}

export function messageId(): string {
  return `msg_01${base62String(22)}`;
}

export function toolUseId(random: () => number): string {
  return `toolu_01${base62String(22, random)}`;
}

export function serverToolUseId(random: () => number): string {
  return `srvtoolu_01${base62String(22, random)}`;
}
