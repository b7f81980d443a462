import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  authTokenPath,
  loadOrCreateAuthToken,
  readAuthTokenFile,
  resolveAuthToken,
} from '../src/auth-token.js';

const dirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'scripthut-token-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('auth token file', () => {
  it('creates a 256-bit token with mode 0600 once, then reads the same one back', () => {
    const d = dataDir();
    expect(readAuthTokenFile(d)).toBeNull();
    const token = loadOrCreateAuthToken(d);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(authTokenPath(d)).mode & 0o777).toBe(0o600);
    expect(loadOrCreateAuthToken(d)).toBe(token);
    expect(readAuthTokenFile(d)).toBe(token);
    expect(readFileSync(authTokenPath(d), 'utf8')).toBe(`${token}\n`);
  });

  it('refuses a token file that other users can read, naming the fix', () => {
    const d = dataDir();
    writeFileSync(authTokenPath(d), 'abc\n');
    chmodSync(authTokenPath(d), 0o644);
    expect(() => readAuthTokenFile(d)).toThrow(/readable by other users.*chmod 600/);
  });

  it('prefers settings, then SCRIPTHUT_TOKEN, then the data dir file', () => {
    const d = dataDir();
    expect(resolveAuthToken(d, 'from-settings', { SCRIPTHUT_TOKEN: 'from-env' })).toEqual({
      token: 'from-settings',
      origin: 'settings',
    });
    expect(resolveAuthToken(d, null, { SCRIPTHUT_TOKEN: 'from-env' })).toEqual({
      token: 'from-env',
      origin: 'environment',
    });
    const generated = resolveAuthToken(d, null, {});
    expect(generated.origin).toBe('data_dir');
    expect(generated.token).toBe(readAuthTokenFile(d));
  });
});
