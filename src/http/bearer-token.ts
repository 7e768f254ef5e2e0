import { createHash, timingSafeEqual } from 'node:crypto';

/** Routes answered without a token: the health check and the static dashboard page (it holds no data). */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/health', '/']);

const BEARER = /^Bearer +([\x21-\x7e]+) *$/i;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * `HTTP_AUTH_TOKEN` (SPEC §7): when set, a request must carry
 * `Authorization: Bearer <token>`. Only that header is read — a token in the
 * query string would end up in proxy and browser histories, so it is never
 * looked for. Both sides are hashed to equal length and compared in constant
 * time, so the answer's timing says nothing about how much of a guess matched.
 */
export class BearerToken {
  private readonly expected: Buffer | null;

  constructor(token: string | undefined) {
    this.expected = token === undefined || token === '' ? null : digest(token);
  }

  /** Whether a token is required at all. */
  get required(): boolean {
    return this.expected !== null;
  }

  /** Whether an `Authorization` header value grants access. */
  allows(authorization: string | undefined): boolean {
    if (this.expected === null) return true;
    if (authorization === undefined) return false;
    const m = BEARER.exec(authorization);
    if (m === null) return false;
    return timingSafeEqual(digest(m[1]!), this.expected);
  }
}
