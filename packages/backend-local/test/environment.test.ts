/**
 * Local jobs and commands do not inherit the ScriptHut process's secrets (real processes).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalBackend, inheritedEnvironment, isWithheldEnvName } from '../src/index.js';
import { makeRequest, tracked, waitForStatus } from './helpers.js';

/** Variables the "server" holds during these tests (set on process.env, restored afterwards). */
const SERVER_ENV: Record<string, string> = {
  SCRIPTHUT_TOKEN: 'server-api-token-1',
  AWS_ACCESS_KEY_ID: 'AKIASERVERKEY',
  AWS_SECRET_ACCESS_KEY: 'server-aws-secret',
  AWS_SESSION_TOKEN: 'server-aws-session',
  AWS_REGION: 'eu-west-1',
  GITHUB_TOKEN: 'server-gh-token',
  DB_URL: 'postgres://server:pw@db/x', // configured `secret: true` in some environment
  MY_API_KEY: 'inherited-on-purpose', // listed in inherit_env
  PLAIN_SERVER_VAR: 'plain-value',
};
const NAMES = Object.keys(SERVER_ENV);
const saved: Record<string, string | undefined> = {};

beforeAll(() => {
  for (const n of NAMES) {
    saved[n] = process.env[n];
    process.env[n] = SERVER_ENV[n];
  }
});
afterAll(() => {
  for (const n of NAMES) {
    if (saved[n] === undefined) delete process.env[n];
    else process.env[n] = saved[n];
  }
});

describe('which server variables are withheld', () => {
  const options = { secretNames: ['DB_URL'], inheritEnv: ['MY_API_*'] };
  it('the server token, AWS credentials, the name rule and configured secrets; not inherit_env', () => {
    const env = inheritedEnvironment(process.env, options);
    for (const n of [
      'SCRIPTHUT_TOKEN',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'GITHUB_TOKEN',
      'DB_URL',
    ]) {
      expect(env[n], n).toBeUndefined();
      expect(isWithheldEnvName(n, options), n).toBe(true);
    }
    expect(env.MY_API_KEY).toBe('inherited-on-purpose');
    expect(env.AWS_REGION).toBe('eu-west-1');
    expect(env.PLAIN_SERVER_VAR).toBe('plain-value');
    expect(env.PATH).toBe(process.env.PATH);
    // without options only the rule and the AWS list apply
    expect(isWithheldEnvName('DB_URL')).toBe(false);
    expect(isWithheldEnvName('MY_API_KEY')).toBe(true);
  });
});

describe('local jobs and commands', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'scripthut-local-env-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const PRINT = NAMES.map((n) => `echo "${n}=\${${n}-unset}"`).join('; ');
  const expected = (overrides: Record<string, string> = {}) =>
    [
      'SCRIPTHUT_TOKEN=unset',
      'AWS_ACCESS_KEY_ID=unset',
      'AWS_SECRET_ACCESS_KEY=unset',
      'AWS_SESSION_TOKEN=unset',
      'AWS_REGION=eu-west-1',
      'GITHUB_TOKEN=unset',
      'DB_URL=unset',
      'MY_API_KEY=inherited-on-purpose',
      'PLAIN_SERVER_VAR=plain-value',
    ]
      .map((line) => {
        const name = line.split('=')[0]!;
        return name in overrides ? `${name}=${overrides[name]}` : line;
      })
      .join('\n');

  it("a job sees the server's plain variables and its own configured secrets, not the server's secrets", async () => {
    const logs = join(dir, 'logs');
    const backend = createLocalBackend({
      name: 'local',
      maxConcurrent: 2,
      spoolDir: join(dir, 'spool'),
      secretEnvNames: ['DB_URL'],
      inheritEnv: ['MY_API_*'],
    });
    try {
      // the task is configured with its own GITHUB_TOKEN (a secret it is meant to get)
      const req = makeRequest(logs, 'env', PRINT, {
        env: { GITHUB_TOKEN: 'task-configured-token' },
        secretEnvNames: ['GITHUB_TOKEN'],
      });
      const [o] = await backend.submit([req]);
      if (!o?.ok) throw new Error(JSON.stringify(o));
      await waitForStatus(backend, tracked(o.jobId, req), (s) => s.final === true);
      expect(readFileSync(join(logs, 'env.out'), 'utf8')).toContain(
        expected({ GITHUB_TOKEN: 'task-configured-token' }),
      );
      // generator commands on the local backend are scrubbed the same way
      const res = await backend.commandRunner().exec(PRINT, { env: { DB_URL: 'explicitly-passed' } });
      expect(res.stdout.trim()).toBe(expected({ DB_URL: 'explicitly-passed' }));
    } finally {
      await backend.close();
    }
  });
});
