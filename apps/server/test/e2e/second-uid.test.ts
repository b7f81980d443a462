/**
 * Another local user cannot steer the server: a real server process bound to 127.0.0.1 with no
 * configured token (its data dir and token file as the server creates them), and requests made by a
 * process running as another uid (nobody, via setpriv). Every API and UI route, read from the app
 * itself, must answer 401; only the login page is public. Needs root (CI runs as root): it fails,
 * never skips, when it cannot switch users.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/index.js';
import { appRoutes, PUBLIC_ROUTES } from '../routes.js';
import { StubRuntime } from '../stub-runtime.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

const OTHER_UID = 65534; // nobody

interface Probe {
  method: string;
  path: string;
  token?: string;
}
interface ProbeResult extends Probe {
  status: number;
  body: string;
}

/** Runs the probes from a process whose uid and gid are OTHER_UID. */
function probeAsOtherUser(
  url: string,
  probes: Probe[],
  tokenFile: string,
): { uid: number; tokenRead: string; results: ProbeResult[] } {
  const script = `
    const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
    let tokenRead;
    try { require('node:fs').readFileSync(input.tokenFile, 'utf8'); tokenRead = 'readable'; }
    catch (e) { tokenRead = e.code; }
    (async () => {
      const results = [];
      for (const p of input.probes) {
        const headers = { 'content-type': 'application/json', origin: input.url };
        if (p.token) headers.authorization = 'Bearer ' + p.token;
        const hasBody = p.method !== 'GET' && p.method !== 'HEAD';
        const res = await fetch(input.url + p.path, {
          method: p.method, headers, redirect: 'manual', body: hasBody ? '{}' : undefined,
          signal: AbortSignal.timeout(15000),
        });
        // An event stream that answers (no 401) never ends: note it and hang up.
        const stream = (res.headers.get('content-type') || '').includes('event-stream');
        const body = stream ? '(event stream)' : (await res.text()).slice(0, 100000);
        if (stream) await res.body.cancel();
        results.push({ ...p, status: res.status, body });
      }
      process.stdout.write(JSON.stringify({ uid: process.getuid(), tokenRead, results }));
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(
    'setpriv',
    [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', process.execPath, '-e', script],
    {
      input: JSON.stringify({ url, probes, tokenFile }),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/' },
      encoding: 'utf8',
      cwd: '/',
      timeout: 120_000,
    },
  );
  if (r.error || r.status !== 0)
    throw new Error(
      `the probe as uid ${OTHER_UID} failed (switching users needs root, as in CI): ${r.error?.message ?? `exit ${r.status}`} ${r.stderr}`,
    );
  return JSON.parse(r.stdout);
}

let parent: string;
let dataDir: string;
let server: ServerProcess;

beforeAll(async () => {
  expect(process.getuid?.(), 'this test switches users and needs root (CI runs as root)').toBe(0);
  parent = mkdtempSync(join(tmpdir(), 'sh-second-uid-'));
  chmodSync(parent, 0o755); // so only the data dir's own mode protects it
  dataDir = join(parent, 'data');
  server = await startServerProcess(dataDir);
});
afterAll(async () => {
  await server?.stop();
  if (parent) rmSync(parent, { recursive: true, force: true });
});

describe('another local user against a 127.0.0.1 server with no configured token', () => {
  it('the data dir and the generated token are private to the server user', () => {
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, 'auth_token')).mode & 0o777).toBe(0o600);
    expect(execFileSync('id', ['-u', String(OTHER_UID)], { encoding: 'utf8' }).trim()).toBe(
      String(OTHER_UID),
    );
  });

  it('gets 401 on every API and UI route (only the login page answers), and cannot read the token', () => {
    // The routes of the app itself, so a new route cannot escape this test.
    const routes = appRoutes(createApp(new StubRuntime()));
    expect(routes.length).toBeGreaterThan(40);
    const token = readFileSync(join(dataDir, 'auth_token'), 'utf8').trim();
    const probes: Probe[] = [
      ...routes,
      { method: 'GET', path: '/api/v1/health', token: 'guess' },
      // Control: the same user-switched process does reach the server (with the token, as its owner would).
      { method: 'GET', path: '/api/v1/health', token },
    ];
    const { uid, tokenRead, results } = probeAsOtherUser(server.url, probes, join(dataDir, 'auth_token'));
    expect(uid).toBe(OTHER_UID);
    expect(tokenRead).toBe('EACCES');
    const control = results.at(-1) as ProbeResult;
    expect(control.status, 'control request with the token').toBe(200);

    const failures: string[] = [];
    for (const r of results.slice(0, -1)) {
      const key = `${r.method} ${r.path}`;
      if (PUBLIC_ROUTES.has(key) && !r.token) {
        if (r.body.includes(token)) failures.push(`${key}: shows the token`);
        continue;
      }
      if (r.status !== 401) failures.push(`${key}: ${r.status}`);
      else if (r.path.startsWith('/api/') || r.path.startsWith('/live/')) {
        if (!r.body.includes('"code":"unauthorized"')) failures.push(`${key}: not the JSON error`);
      } else if (!r.body.includes('action="/login"')) failures.push(`${key}: not the login page`);
    }
    expect(failures).toEqual([]);
  });
});
