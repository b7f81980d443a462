import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  hostFieldMatches,
  keyTypeOfBlob,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  verifyHostKey,
} from '../src/known-hosts.js';

function blob(type: string, body: string): Buffer {
  const t = Buffer.from(type);
  const b = Buffer.from(body);
  const out = Buffer.alloc(8 + t.length + b.length);
  out.writeUInt32BE(t.length, 0);
  t.copy(out, 4);
  out.writeUInt32BE(b.length, 4 + t.length);
  b.copy(out, 8 + t.length);
  return out;
}

const KEY_A = blob('ssh-ed25519', 'A'.repeat(32));
const KEY_B = blob('ssh-ed25519', 'B'.repeat(32));
const KEY_RSA = blob('ssh-rsa', 'R'.repeat(64));
const b64 = (b: Buffer) => b.toString('base64');

describe('known_hosts parsing', () => {
  it('parses plain, bracketed, marker and comment lines with line numbers', () => {
    const text = [
      '# comment',
      '',
      `login.example.org,10.0.0.1 ssh-ed25519 ${b64(KEY_A)} comment here`,
      `[127.0.0.1]:2222 ssh-ed25519 ${b64(KEY_B)}`,
      `@revoked * ssh-rsa ${b64(KEY_RSA)}`,
      `@cert-authority *.example.org ssh-ed25519 ${b64(KEY_A)}`,
      'garbage line',
      `@unknown host ssh-ed25519 ${b64(KEY_A)}`,
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.line, e.marker, e.hosts, e.keyType])).toEqual([
      [3, null, 'login.example.org,10.0.0.1', 'ssh-ed25519'],
      [4, null, '[127.0.0.1]:2222', 'ssh-ed25519'],
      [5, 'revoked', '*', 'ssh-rsa'],
      [6, 'cert-authority', '*.example.org', 'ssh-ed25519'],
    ]);
  });

  it('names non-default ports in [host]:port form', () => {
    expect(knownHostsName('h', 22)).toBe('h');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
  });

  it('matches patterns, wildcards and negations', () => {
    expect(hostFieldMatches('a.example.org,b.example.org', 'b.example.org')).toBe(true);
    expect(hostFieldMatches('*.example.org', 'login1.example.org')).toBe(true);
    expect(hostFieldMatches('*.example.org', 'example.org')).toBe(false);
    expect(hostFieldMatches('login?.example.org', 'login7.example.org')).toBe(true);
    expect(hostFieldMatches('*.example.org,!bad.example.org', 'bad.example.org')).toBe(false);
    expect(hostFieldMatches('[127.0.0.1]:2222', '[127.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches('127.0.0.1', '[127.0.0.1]:2222')).toBe(false);
    expect(hostFieldMatches('LOGIN.example.org', 'login.example.org')).toBe(true);
  });

  it('reads the key type of a blob', () => {
    expect(keyTypeOfBlob(KEY_RSA)).toBe('ssh-rsa');
    expect(keyTypeOfBlob(Buffer.alloc(2))).toBeNull();
  });
});

describe('hashed entries (ssh-keygen -H)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kh-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('matches entries hashed by OpenSSH itself, including [host]:port', () => {
    const file = join(dir, 'known_hosts');
    writeFileSync(
      file,
      `[127.0.0.1]:2222 ssh-ed25519 ${b64(KEY_A)}\nlogin.example.org ssh-ed25519 ${b64(KEY_B)}\n`,
    );
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('127.0.0.1');
    const entries = parseKnownHosts(text);
    expect(entries.every((e) => e.hosts.startsWith('|1|'))).toBe(true);
    expect(verifyHostKey(entries, '127.0.0.1', 2222, KEY_A, file)).toEqual({ ok: true, line: 1 });
    expect(verifyHostKey(entries, 'login.example.org', 22, KEY_B, file)).toEqual({ ok: true, line: 2 });
    // the hashed [host]:port entry must not match the bare host, nor another port
    expect(verifyHostKey(entries, '127.0.0.1', 22, KEY_A, file).ok).toBe(false);
    expect(verifyHostKey(entries, '127.0.0.1', 2223, KEY_A, file).ok).toBe(false);
  });
});

describe('verifyHostKey', () => {
  const path = '/x/known_hosts';
  const entries = parseKnownHosts(
    [
      `other.example.org ssh-ed25519 ${b64(KEY_B)}`,
      `[127.0.0.1]:2222 ssh-rsa ${b64(KEY_RSA)}`,
      `[127.0.0.1]:2222 ssh-ed25519 ${b64(KEY_B)}`,
      `@revoked revoked.example.org ssh-ed25519 ${b64(KEY_A)}`,
      `revoked.example.org ssh-ed25519 ${b64(KEY_A)}`,
    ].join('\n'),
  );

  it('refuses a mismatching key with the line of the entry of the same type', () => {
    const v = verifyHostKey(entries, '127.0.0.1', 2222, KEY_A, path);
    expect(v).toMatchObject({ ok: false, reason: 'mismatch', line: 3 });
    expect(!v.ok && v.message).toBe(
      'host key for [127.0.0.1]:2222 does not match known_hosts /x/known_hosts line 3 — refusing to connect (server presented ssh-ed25519)',
    );
  });

  it('accepts a matching key', () => {
    expect(verifyHostKey(entries, '127.0.0.1', 2222, KEY_B, path)).toEqual({ ok: true, line: 3 });
    expect(verifyHostKey(entries, '127.0.0.1', 2222, KEY_RSA, path)).toEqual({ ok: true, line: 2 });
  });

  it('refuses unknown hosts and revoked keys', () => {
    const unknown = verifyHostKey(entries, 'nowhere', 22, KEY_A, path);
    expect(unknown).toMatchObject({ ok: false, reason: 'unknown', line: null });
    expect(!unknown.ok && unknown.message).toContain('host nowhere is not in known_hosts /x/known_hosts');
    expect(verifyHostKey(entries, 'revoked.example.org', 22, KEY_A, path)).toMatchObject({
      ok: false,
      reason: 'revoked',
      line: 4,
    });
  });

  it('lists known key types for host-key algorithm preference', () => {
    expect(knownKeyTypes(entries, '127.0.0.1', 2222)).toEqual(['ssh-rsa', 'ssh-ed25519']);
    expect(knownKeyTypes(entries, 'nowhere', 22)).toEqual([]);
  });
});
