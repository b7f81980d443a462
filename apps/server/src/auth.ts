/**
 * Authentication state of a server: where the current token comes from (read on every request, so a
 * config reload that rotates `settings.auth_token` takes effect at once), one-time login links for
 * browsers, and a per-address throttle of failed credential checks.
 */
import { randomBytes } from 'node:crypto';
import { resolveAuthToken, type ScriptHutRuntime } from '@scripthut/runtime';
import type { Context } from 'hono';
import { safeEqual, sessionValue } from './security.js';

/**
 * Returns the token every request must present, read at each call. `null` means nobody can sign in
 * (e.g. a token too short for a network bind); the server refuses every credential then.
 */
export type TokenSource = () => string | null;

/**
 * The runtime's token, read per request: `settings.auth_token` (as last loaded or reloaded), else
 * `SCRIPTHUT_TOKEN`, else the generated token of the data directory (read once, then cached).
 */
export function runtimeTokenSource(
  runtime: ScriptHutRuntime,
  env: NodeJS.ProcessEnv = process.env,
): TokenSource {
  let fallback: string | undefined;
  return () => {
    const configured = runtime.settings.auth_token;
    if (configured) return configured;
    fallback ??= resolveAuthToken(runtime.dataDir, null, env).token;
    return fallback;
  };
}

/** How long a one-time login link stays valid. */
export const LOGIN_CODE_TTL_MS = 10 * 60 * 1000;
const MAX_OPEN_CODES = 1000;

/**
 * One-time login codes (`/?login=<code>`), held in memory: each is valid once, for
 * {@link LOGIN_CODE_TTL_MS}, and only while the token it was minted under is still the current one.
 */
export class LoginCodes {
  private readonly codes = new Map<string, { expiresAt: number; tokenTag: string }>();

  constructor(
    private readonly token: TokenSource,
    private readonly ttlMs = LOGIN_CODE_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new code; throws when no token is usable. */
  mint(): { code: string; expiresAt: Date } {
    const token = this.token();
    if (!token) throw new Error('no usable auth token');
    const at = this.now();
    for (const [code, entry] of this.codes) if (entry.expiresAt <= at) this.codes.delete(code);
    while (this.codes.size >= MAX_OPEN_CODES) {
      const oldest = this.codes.keys().next().value as string;
      this.codes.delete(oldest);
    }
    const code = randomBytes(24).toString('base64url');
    const expiresAt = at + this.ttlMs;
    this.codes.set(code, { expiresAt, tokenTag: sessionValue(token) });
    return { code, expiresAt: new Date(expiresAt) };
  }

  /** True (and the code is spent) when `code` is open, unexpired and minted under the current token. */
  consume(code: string): boolean {
    const entry = this.codes.get(code);
    if (!entry) return false;
    this.codes.delete(code);
    const token = this.token();
    return entry.expiresAt > this.now() && !!token && safeEqual(entry.tokenTag, sessionValue(token));
  }

  /** Open codes (tests). */
  get size(): number {
    return this.codes.size;
  }
}

/**
 * Counts failed credential checks per client address in a fixed window; past `limit` failures the
 * address is refused (429) until the window ends. Memory is bounded (oldest addresses are dropped).
 */
export class FailureThrottle {
  private readonly failures = new Map<string, { count: number; windowEnd: number }>();

  constructor(
    readonly limit = 10,
    readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
    private readonly maxAddresses = 10_000,
  ) {}

  /** Seconds until `address` may try again; 0 when it may try now. */
  retryAfter(address: string): number {
    const entry = this.failures.get(address);
    const at = this.now();
    if (!entry) return 0;
    if (entry.windowEnd <= at) {
      this.failures.delete(address);
      return 0;
    }
    return entry.count >= this.limit ? Math.ceil((entry.windowEnd - at) / 1000) : 0;
  }

  /** Records one failure of `address`. */
  fail(address: string): void {
    const at = this.now();
    const entry = this.failures.get(address);
    if (entry && entry.windowEnd > at) {
      entry.count++;
      return;
    }
    this.failures.delete(address);
    if (this.failures.size >= this.maxAddresses) {
      for (const [key, e] of this.failures) if (e.windowEnd <= at) this.failures.delete(key);
      if (this.failures.size >= this.maxAddresses)
        this.failures.delete(this.failures.keys().next().value as string);
    }
    this.failures.set(address, { count: 1, windowEnd: at + this.windowMs });
  }
}

/** The peer address of a request (`unknown` for in-process requests). Proxy headers are not trusted. */
export function clientAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}
