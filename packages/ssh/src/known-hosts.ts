/**
 * OpenSSH `known_hosts` parsing and host-key verification.
 *
 * Supported: plain host patterns (comma lists, `*`/`?` wildcards, `!` negation), `[host]:port`
 * entries for non-default ports, hashed `|1|salt|hmac` entries (HashKnownHosts), comments and blank
 * lines, and the `@revoked` marker. `@cert-authority` lines are parsed but never match a plain host
 * key (host certificates are not supported).
 */
import { createHmac } from 'node:crypto';

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  /** 1-based line number in the file. */
  line: number;
  marker: 'cert-authority' | 'revoked' | null;
  /** The host field as written (patterns or `|1|...`). */
  hosts: string;
  /** Key type, e.g. `ssh-ed25519`. */
  keyType: string;
  /** Base64 key blob as written. */
  keyBase64: string;
}

/** Parses known_hosts text. Malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const fields = raw.split(/\s+/);
    let marker: KnownHostEntry['marker'] = null;
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@cert-authority') marker = 'cert-authority';
      else if (m === '@revoked') marker = 'revoked';
      else continue;
    }
    if (fields.length < 3) continue;
    const [hosts, keyType, keyBase64] = fields as [string, string, string];
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyBase64)) continue;
    entries.push({ line: i + 1, marker, hosts, keyType, keyBase64 });
  }
  return entries;
}

/** The name OpenSSH looks up: `host` for port 22, otherwise `[host]:port`. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function hashedMatches(field: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const parts = field.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const expected = Buffer.from(parts[3]!, 'base64');
  const actual = createHmac('sha1', salt).update(name).digest();
  return expected.length === actual.length && expected.equals(actual);
}

/** True when the host field of an entry matches `name` (already in `[host]:port` form if needed). */
export function hostFieldMatches(hostsField: string, name: string): boolean {
  if (hostsField.startsWith('|')) return hashedMatches(hostsField, name);
  let matched = false;
  for (const pattern of hostsField.split(',')) {
    if (pattern === '') continue;
    const negated = pattern.startsWith('!');
    const p = negated ? pattern.slice(1) : pattern;
    if (globToRegExp(p).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Reads the key type (first SSH string) out of a raw public key blob. */
export function keyTypeOfBlob(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len > blob.length - 4 || len > 256) return null;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** Outcome of checking a presented host key against known_hosts. */
export type HostKeyVerdict =
  | { ok: true; line: number }
  | { ok: false; reason: 'mismatch' | 'unknown' | 'revoked'; line: number | null; message: string };

/**
 * Checks the raw host key `blob` presented by `host:port` against parsed known_hosts entries.
 * `path` is only used in messages.
 */
export function verifyHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  blob: Buffer,
  path: string,
): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const presentedType = keyTypeOfBlob(blob) ?? 'unknown';
  const presented = blob.toString('base64');
  const forHost = entries.filter((e) => e.marker !== 'cert-authority' && hostFieldMatches(e.hosts, name));
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.keyBase64 === presented);
  if (revoked) {
    return {
      ok: false,
      reason: 'revoked',
      line: revoked.line,
      message: `host key for ${name} is marked @revoked in known_hosts ${path} line ${revoked.line} — refusing to connect`,
    };
  }
  const candidates = forHost.filter((e) => e.marker === null);
  const match = candidates.find((e) => e.keyType === presentedType && e.keyBase64 === presented);
  if (match) return { ok: true, line: match.line };
  if (candidates.length > 0) {
    const sameType = candidates.find((e) => e.keyType === presentedType) ?? candidates[0]!;
    return {
      ok: false,
      reason: 'mismatch',
      line: sameType.line,
      message: `host key for ${name} does not match known_hosts ${path} line ${sameType.line} — refusing to connect (server presented ${presentedType})`,
    };
  }
  return {
    ok: false,
    reason: 'unknown',
    line: null,
    message: `host ${name} is not in known_hosts ${path} — refusing to connect (server presented ${presentedType})`,
  };
}

/** Key types listed for `host:port`, in file order (used to prefer them in host-key negotiation). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  const types: string[] = [];
  for (const e of entries) {
    if (e.marker === null && hostFieldMatches(e.hosts, name) && !types.includes(e.keyType))
      types.push(e.keyType);
  }
  return types;
}
