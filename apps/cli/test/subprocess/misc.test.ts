import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAuthTokenFile, readEngineLock } from '@scripthut/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_NODE_ARGS, cli, cliEnv } from '../harness.js';
import { CONFIG_YAML, json, schemas } from '../scenarios.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'scripthut-cli-misc-'));
  writeFileSync(join(tmp, 'scripthut.yaml'), CONFIG_YAML);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('server mode failures', () => {
  it('exit 3 when the server is unreachable, with a hint', async () => {
    const r = await cli(['run', 'list', '--server', 'http://127.0.0.1:9'], { cwd: tmp });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('cannot reach the ScriptHut server at http://127.0.0.1:9');
    expect(r.stderr).toContain('hint: check --server / SCRIPTHUT_SERVER');
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
    const child = spawn(process.execPath, [...CLI_NODE_ARGS, 'serve', '--port', '0'], {
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
      // every request needs the token; serve created one in the data dir (0600)
      const token = readAuthTokenFile(dataDir);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const refused = await cli(['backend', 'list', '--json', '--server', url], { cwd: tmp });
      expect(refused.code).toBe(1);
      expect(json(refused, schemas.error).error.code).toBe('unauthorized');
      const listed = await cli(['backend', 'list', '--json', '--server', url], {
        cwd: tmp,
        env: { SCRIPTHUT_TOKEN: token as string },
      });
      expect(listed.code, listed.stderr).toBe(0);
      expect(json(listed, schemas.backends).map((b) => b.name)).toEqual(['local']);
      // no --server: the engine lock points the CLI at the running server, the token comes from
      // the data dir, and no daemon is started next to it
      const viaLock = await cli(['backend', 'status', 'local', '--json'], {
        cwd: tmp,
        env: { SCRIPTHUT_DATA_DIR: dataDir },
      });
      expect(viaLock.code, viaLock.stderr).toBe(0);
      expect(json(viaLock, schemas.backendDetail).name).toBe('local');
      expect(viaLock.stderr).not.toContain('started the ScriptHut daemon');
      expect(readEngineLock(dataDir)).toMatchObject({ pid: child.pid, role: 'serve', serverUrl: url });
      // the browser's way in: a one-time login URL when the server mints them, else the plain URL
      const open = await cli(['open', '--json'], { cwd: tmp, env: { SCRIPTHUT_DATA_DIR: dataDir } });
      expect(open.code, open.stderr).toBe(0);
      const link = JSON.parse(open.stdout) as { url: string; oneTime: boolean };
      expect(link.url.startsWith(`${url}/`)).toBe(true);
      if (!link.oneTime) expect(link.url).toBe(`${url}/`);
      const noServer = await cli(['open', '--no-daemon'], {
        cwd: tmp,
        env: { SCRIPTHUT_DATA_DIR: join(tmp, 'elsewhere-data') },
      });
      expect(noServer.code).toBe(2);
      expect(noServer.stderr).toContain('error: the web UI needs a running server');
      // a daemon cannot take over a data dir that `serve` owns
      const daemonStop = await cli(['daemon', 'stop'], { cwd: tmp, env: { SCRIPTHUT_DATA_DIR: dataDir } });
      expect(daemonStop.code).toBe(1);
      expect(daemonStop.stderr).toContain(
        `is held by \`scripthut serve\` (pid ${child.pid}), not by the daemon`,
      );
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
