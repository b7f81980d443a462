/**
 * Trust on first use (TOFU) for SSH host keys, in a known_hosts file that ScriptHut owns
 * (`<data_dir>/known_hosts` in the runtime).
 *
 * - The first successful connection to a `host:port` appends its key to the file (OpenSSH
 *   format, so `ssh-keygen -F`/`-R` and `ssh -o UserKnownHostsFile=` work on it); the caller warns
 *   once with the key's `SHA256:` fingerprint.
 * - Later connections must present a pinned key: a different key is refused with an error naming
 *   the host, both fingerprints, the file and the `ssh-keygen -R` command that accepts a new key.
 *
 * The file is created with mode 0600 (its directory 0700). Appends from one process are
 * serialised per file; an append re-reads the file first, so a key pinned meanwhile by another
 * process is honoured (a different key is then refused, never added next to it).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { shellQuote } from '@scripthut/core';
import {
  type HostKeyVerdict,
  type KnownHostEntry,
  keyTypeOfBlob,
  knownHostsName,
  parseKnownHosts,
  verifyHostKey,
} from './known-hosts.js';

/** The fingerprint OpenSSH prints for a raw public key blob: `SHA256:` + unpadded base64 of its SHA-256. */
export function fingerprintSha256(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The known_hosts line pinning `blob` for `host:port` (`[host]:port type base64`, plain `host` on port 22). */
export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  return `${knownHostsName(host, port)} ${keyTypeOfBlob(blob) ?? 'unknown'} ${blob.toString('base64')}`;
}

/** The shell command that removes the pinned keys of `host:port` from `path` (so the next connect pins anew). */
export function forgetHostKeyCommand(host: string, port: number, path: string): string {
  return `ssh-keygen -R ${shellQuote(knownHostsName(host, port))} -f ${shellQuote(path)}`;
}

const FILE_HEADER = [
  '# SSH host keys pinned by ScriptHut on the first connection to each host (trust on first use).',
  '# OpenSSH known_hosts format. To accept a changed key: ssh-keygen -R "[host]:port" -f <this file>',
  '',
].join('\n');

/** Outcome of checking a presented key against the pins: known, new (to pin), or refused with a message. */
export type PinVerdict = { kind: 'pinned' } | { kind: 'new' } | { kind: 'refused'; message: string };

/** Serialises appends per file within this process. */
const appendQueues = new Map<string, Promise<unknown>>();

/** A ScriptHut-owned known_hosts file used for trust on first use. */
export class PinnedHostKeys {
  constructor(readonly path: string) {}

  /** Parsed entries of the file; an absent file has none. Other read errors are thrown. */
  async load(): Promise<KnownHostEntry[]> {
    try {
      return parseKnownHosts(await readFile(this.path, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Checks a presented key (raw blob) of `host:port` against `entries` (from {@link load}). */
  check(entries: readonly KnownHostEntry[], host: string, port: number, blob: Buffer): PinVerdict {
    return this.judge(verifyHostKey(entries, host, port, blob, this.path), entries, host, port, blob);
  }

  /**
   * Pins `blob` for `host:port` unless a key is pinned by now (re-read under the per-file queue).
   * Returns `pinned: true` when this call wrote the line; a refusal when another key got pinned.
   */
  async pin(host: string, port: number, blob: Buffer): Promise<{ pinned: boolean } | PinVerdict> {
    const previous = appendQueues.get(this.path) ?? Promise.resolve();
    const task = previous.then(async () => {
      const entries = await this.load();
      const verdict = this.check(entries, host, port, blob);
      if (verdict.kind !== 'new') return verdict.kind === 'pinned' ? { pinned: false } : verdict;
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const file = await open(this.path, 'a', 0o600);
      try {
        const { size } = await file.stat();
        await file.appendFile(`${size === 0 ? FILE_HEADER : ''}${knownHostsLine(host, port, blob)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      return { pinned: true };
    });
    const settled = task.catch(() => undefined);
    appendQueues.set(this.path, settled);
    void settled.then(() => {
      if (appendQueues.get(this.path) === settled) appendQueues.delete(this.path);
    });
    return task;
  }

  private judge(
    verdict: HostKeyVerdict,
    entries: readonly KnownHostEntry[],
    host: string,
    port: number,
    blob: Buffer,
  ): PinVerdict {
    if (verdict.ok) return { kind: 'pinned' };
    if (verdict.reason === 'unknown') return { kind: 'new' };
    const name = knownHostsName(host, port);
    const presented = `${keyTypeOfBlob(blob) ?? 'unknown'} ${fingerprintSha256(blob)}`;
    const accept = forgetHostKeyCommand(host, port, this.path);
    if (verdict.reason === 'revoked') {
      return {
        kind: 'refused',
        message: `host key ${presented} of ${name} is marked @revoked in ${this.path} line ${verdict.line} — refusing to connect`,
      };
    }
    const old = entries.find((e) => e.line === verdict.line);
    const pinned = old ? `${old.keyType} ${fingerprintSha256(Buffer.from(old.keyBase64, 'base64'))}` : '?';
    return {
      kind: 'refused',
      message:
        `host key of ${name} has CHANGED — refusing to connect. ScriptHut pinned ${pinned} on the first ` +
        `connection (${this.path} line ${verdict.line}); the server now presents ${presented}. Someone may ` +
        `be intercepting the connection, or the host key was replaced. If you expect the change (check the ` +
        `new fingerprint with the cluster's administrators), remove the old key with: ${accept} ` +
        '(the next connection pins the new key).',
    };
  }
}
