import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliEnv, MAIN, REPO, runProcess, TSX } from '../harness.js';
import { CONFIG_YAML, json, schemas } from '../scenarios.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'scripthut-cli-misc-'));
  writeFileSync(join(tmp, 'scripthut.yaml'), CONFIG_YAML);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('from a fresh clone', () => {
  it('`pnpm scripthut workflow run demo --watch` runs the demo to completion and exits 0', async () => {
    const r = await runProcess('pnpm', ['scripthut', 'workflow', 'run', 'demo', '--watch'], {
      cwd: REPO,
      env: { SCRIPTHUT_DATA_DIR: join(tmp, 'demo-data') },
      timeoutMs: 90_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Run [0-9a-f]{8} {2}demo {2}completed/);
    expect(r.stdout).toContain('report');
  }, 120_000);
});

describe('server mode failures', () => {
  it('exit 3 when the server is unreachable, with a hint', async () => {
    const r = await cli(['run', 'list', '--server', 'http://127.0.0.1:9'], { cwd: tmp });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot reach the ScriptHut server at http://127.0.0.1:9');
    expect(r.stderr).toContain('scripthut serve');
    const j = await cli(['run', 'list', '--json'], {
      cwd: tmp,
      env: { SCRIPTHUT_SERVER: 'http://127.0.0.1:9' },
    });
    expect(j.code).toBe(3);
    expect(json(j, schemas.error).error.exitCode).toBe(3);
  });
});

describe('serve', () => {
  it('prints the URL, serves the API, follows the engine lock, stops on SIGINT with 0', async () => {
    const dataDir = join(tmp, 'serve-data');
    const child = spawn(process.execPath, ['--import', TSX, MAIN, 'serve', '--port', '0'], {
      cwd: tmp,
      env: cliEnv({ SCRIPTHUT_DATA_DIR: dataDir }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(
          () => reject(new Error(`serve did not print a URL; stderr: ${stderr}`)),
          30_000,
        );
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /^(http:\/\/\S+)\n/m.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1] as string);
          }
        });
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // Every request needs the token: the server generated one in its data dir (0600).
      const token = readFileSync(join(dataDir, 'auth_token'), 'utf8').trim();
      const anonymous = await cli(['backend', 'list', '--json', '--server', url], { cwd: tmp });
      expect(anonymous.code).not.toBe(0);
      const listed = await cli(['backend', 'list', '--json', '--server', url], {
        cwd: tmp,
        env: { SCRIPTHUT_TOKEN: token },
      });
      expect(listed.code, listed.stderr).toBe(0);
      await expect.poll(() => stderr).toMatch(new RegExp(`Sign in from a browser: ${url}/\\?login=`));
      expect(stderr).not.toContain(token);
      // no --server: the engine lock points the CLI at the running server
      const viaLock = await cli(['workflow', 'list', '--json'], {
        cwd: tmp,
        env: { SCRIPTHUT_DATA_DIR: dataDir },
      });
      expect(viaLock.code, viaLock.stderr).toBe(0);
      expect(viaLock.stderr).toContain(`using it at ${url}`);
      expect(json(viaLock, schemas.workflows).map((w) => w.name)).toEqual(['ok', 'fails']);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  }, 60_000);
});

describe('no runtime needed', () => {
  it('--version, --help, completion, config schema', async () => {
    const v = await cli(['--version'], { cwd: tmp });
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const h = await cli(['--help'], { cwd: tmp });
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('Usage: scripthut <command> [flags]');
    const c = await cli(['completion', 'zsh'], { cwd: tmp });
    expect(c.stdout.startsWith('#compdef scripthut')).toBe(true);
    const s = await cli(['config', 'schema'], { cwd: tmp });
    expect(JSON.parse(s.stdout)).toHaveProperty('properties.backends');
    const bad = await cli(['completion', 'fish'], { cwd: tmp });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unsupported shell "fish"; supported: bash, zsh');
  });
});
