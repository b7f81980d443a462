import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  fingerprintSha256,
  forgetHostKeyCommand,
  knownHostsLine,
  PinnedHostKeys,
} from '../src/host-key-pins.js';

const dir = mkdtempSync(join(tmpdir(), 'pins-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real ed25519 public key made by ssh-keygen: [blob, the fingerprint ssh-keygen prints]. */
function realKey(name: string): { blob: Buffer; fingerprint: string } {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const blob = Buffer.from(readFileSync(`${file}.pub`, 'utf8').split(' ')[1]!, 'base64');
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`])
    .toString()
    .split(' ')[1]!;
  return { blob, fingerprint };
}

const A = realKey('a');
const B = realKey('b');

describe('fingerprints and lines', () => {
  it('prints SHA256 fingerprints exactly as OpenSSH does', () => {
    expect(A.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprintSha256(A.blob)).toBe(A.fingerprint);
    expect(fingerprintSha256(B.blob)).toBe(B.fingerprint);
  });

  it('writes [host]:port for other ports and the bare host on 22', () => {
    expect(knownHostsLine('127.0.0.1', 2222, A.blob)).toBe(
      `[127.0.0.1]:2222 ssh-ed25519 ${A.blob.toString('base64')}`,
    );
    expect(knownHostsLine('login.example.org', 22, A.blob)).toMatch(/^login\.example\.org ssh-ed25519 /);
  });

  it('quotes the accept command for a shell', () => {
    expect(forgetHostKeyCommand('127.0.0.1', 2222, '/d/known_hosts')).toBe(
      "ssh-keygen -R '[127.0.0.1]:2222' -f /d/known_hosts",
    );
    expect(forgetHostKeyCommand('h', 22, "/x y/it's")).toBe(`ssh-keygen -R h -f '/x y/it'\\''s'`);
  });
});

describe('PinnedHostKeys', () => {
  it('pins a new key once (0600 file OpenSSH can read), then recognises it', async () => {
    const path = join(dir, 'sub', 'known_hosts');
    const pins = new PinnedHostKeys(path);
    expect(await pins.load()).toEqual([]);
    expect(pins.check([], '127.0.0.1', 2222, A.blob)).toEqual({ kind: 'new' });
    // concurrent first connections of one process write one line
    const results = await Promise.all([1, 2, 3].map(() => pins.pin('127.0.0.1', 2222, A.blob)));
    expect(results.filter((r) => 'pinned' in r && r.pinned)).toHaveLength(1);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text.match(/^\[127\.0\.0\.1\]:2222 /gm)).toHaveLength(1);
    // OpenSSH finds the entry in the file
    const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', path]).toString();
    expect(found).toContain(A.blob.toString('base64'));
    expect(pins.check(await pins.load(), '127.0.0.1', 2222, A.blob)).toEqual({ kind: 'pinned' });
    // another port of the same host is another host
    expect(pins.check(await pins.load(), '127.0.0.1', 2223, B.blob)).toEqual({ kind: 'new' });
  });

  it('refuses a changed key naming the host, both fingerprints, the file and the command to accept it', async () => {
    const path = join(dir, 'changed_hosts');
    const pins = new PinnedHostKeys(path);
    await pins.pin('10.1.2.3', 2200, A.blob);
    const verdict = pins.check(await pins.load(), '10.1.2.3', 2200, B.blob);
    expect(verdict.kind).toBe('refused');
    const message = verdict.kind === 'refused' ? verdict.message : '';
    expect(message).toContain('host key of [10.1.2.3]:2200 has CHANGED — refusing to connect');
    expect(message).toContain(`ssh-ed25519 ${A.fingerprint}`);
    expect(message).toContain(`ssh-ed25519 ${B.fingerprint}`);
    expect(message).toContain(`${path} line 3`);
    const command = forgetHostKeyCommand('10.1.2.3', 2200, path);
    expect(message).toContain(command);
    // pin() re-checks the file: a key pinned meanwhile wins, the other one is refused
    expect(await pins.pin('10.1.2.3', 2200, B.blob)).toMatchObject({ kind: 'refused' });
    // The command from the message really forgets the key; the next pin takes the new one.
    execFileSync('bash', ['-c', command], { stdio: 'pipe' });
    expect(pins.check(await pins.load(), '10.1.2.3', 2200, B.blob)).toEqual({ kind: 'new' });
    expect(await pins.pin('10.1.2.3', 2200, B.blob)).toEqual({ pinned: true });
    expect(pins.check(await pins.load(), '10.1.2.3', 2200, B.blob)).toEqual({ kind: 'pinned' });
  });

  it('honours @revoked lines a user added', async () => {
    const path = join(dir, 'revoked_hosts');
    writeFileSync(path, `@revoked * ${knownHostsLine('x', 22, A.blob).split(' ').slice(1).join(' ')}\n`);
    const pins = new PinnedHostKeys(path);
    const verdict = pins.check(await pins.load(), 'h', 22, A.blob);
    expect(verdict).toMatchObject({ kind: 'refused' });
    expect(verdict.kind === 'refused' && verdict.message).toContain(
      `${A.fingerprint} of h is marked @revoked`,
    );
  });

  it('reports an unreadable file instead of treating it as empty', async () => {
    const pins = new PinnedHostKeys(dir); // a directory: EISDIR
    await expect(pins.load()).rejects.toThrow(/EISDIR/);
  });
});
