import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Issue, ScriptHutError } from '@scripthut/core';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  assertBackendUsable,
  checkBackendFiles,
  configJsonSchema,
  defaultConfig,
  expandHome,
  formatIssue,
  isLoopbackHost,
  loadConfig,
  MIN_REMOTE_TOKEN_LENGTH,
  parseConfigText,
  validateConfigText,
} from '../src/index.js';
import { fixture, HOME, LOCAL_EXTRAS, load } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-config-'));
});

const SLURM = (keyPath: string) => `backends:
  - name: hpc
    type: slurm
    ssh:
      host: h
      user: u
      key_path: ${keyPath}
`;

describe('loadConfig lookup', () => {
  it('explicit path must exist', async () => {
    const err = await loadConfig({ cwd: dir, path: 'missing.yaml' }).catch((e: unknown) => e);
    expect(ScriptHutError.is(err) && err.code).toBe('config_not_found');
    expect((err as Error).message).toBe('config file not found: missing.yaml');
  });

  it('explicit path wins over ./scripthut.yaml', async () => {
    writeFileSync(join(dir, 'scripthut.yaml'), 'settings: {poll_interval: 10}\n');
    writeFileSync(join(dir, 'other.yaml'), 'settings: {poll_interval: 20}\n');
    const loaded = await loadConfig({ cwd: dir, path: 'other.yaml', homeDir: HOME });
    expect(loaded).toMatchObject({ source: 'file', path: join(dir, 'other.yaml') });
    expect(loaded.config.settings.poll_interval).toBe(20);
  });

  it('./scripthut.yaml before ./scripthut.yml', async () => {
    writeFileSync(join(dir, 'scripthut.yml'), 'settings: {poll_interval: 20}\n');
    let loaded = await loadConfig({ cwd: dir });
    expect(loaded).toMatchObject({ source: 'file', path: join(dir, 'scripthut.yml') });
    expect(loaded.config.settings.poll_interval).toBe(20);
    writeFileSync(join(dir, 'scripthut.yaml'), 'settings: {poll_interval: 10}\n');
    loaded = await loadConfig({ cwd: dir });
    expect(loaded).toMatchObject({ source: 'file', path: join(dir, 'scripthut.yaml') });
    expect(loaded.config.settings.poll_interval).toBe(10);
  });

  it('falls back to the embedded default', async () => {
    const loaded = await loadConfig({ cwd: dir, homeDir: HOME });
    expect(loaded.source).toBe('default');
    expect('path' in loaded).toBe(false);
    expect(loaded.config).toEqual(defaultConfig({ homeDir: HOME }));
  });

  it('errors name the file relative to cwd', async () => {
    writeFileSync(join(dir, 'scripthut.yaml'), 'settings:\n  server_port: 0\n');
    const err = await loadConfig({ cwd: dir }).catch((e: unknown) => e);
    expect(ScriptHutError.is(err) && err.code).toBe('config_invalid');
    expect((err as Error).message).toBe(
      'scripthut.yaml: 1 configuration error\nscripthut.yaml:2:3 settings.server_port: expected an integer from 1 to 65535, got 0',
    );
  });
});

describe('embedded default config', () => {
  it('has one local backend and the demo workflow', () => {
    const config = defaultConfig({ homeDir: HOME });
    expect(config.backends).toEqual([
      {
        name: 'local',
        type: 'local',
        ...LOCAL_EXTRAS,
        max_concurrent: Math.max(1, cpus().length),
        login_shell: false,
        clone_dir: null,
        work_dir: null,
        inherit_env: [],
      },
    ]);
    expect(config.workflows.map((w) => [w.name, w.backend])).toEqual([['demo', 'local']]);
  });

  it('the demo command prints a fan-out/fan-in DAG with a wildcard dependency (plain bash + printf)', () => {
    const command = defaultConfig().workflows[0]!.command;
    expect(command).not.toMatch(/python/);
    const out = execFileSync('bash', ['-c', command], { encoding: 'utf8' });
    const { tasks } = JSON.parse(out) as {
      tasks: { id: string; name: string; command: string; deps?: string[] }[];
    };
    expect(tasks.map((t) => [t.id, t.deps ?? []])).toEqual([
      ['prepare', []],
      ['work.1', ['prepare']],
      ['work.2', ['prepare']],
      ['work.3', ['prepare']],
      ['work.4', ['prepare']],
      ['report', ['work.*']],
    ]);
    for (const t of tasks) expect(t.name).not.toBe('');
    expect(tasks[1]!.command).toBe('sleep 1; echo work item 1 done');
  });
});

describe('paths', () => {
  it('expands ~ in local paths only', () => {
    expect(expandHome('~', '/h')).toBe('/h');
    expect(expandHome('~/x/y', '/h')).toBe('/h/x/y');
    expect(expandHome('~other/x', '/h')).toBe('~other/x');
    expect(expandHome('/abs', '/h')).toBe('/abs');
  });

  it('derives sources_cache_dir from data_dir; expands price_source paths but not URLs', () => {
    const text = 'settings:\n  data_dir: ~/sh\npricing:\n  price_source: ~/prices.json\n  cache_hours: 1.5\n';
    const { config } = parseConfigText(text, 'x', { homeDir: HOME, checkFiles: false });
    expect(config.settings.data_dir).toBe('/home/tester/sh');
    expect(config.settings.sources_cache_dir).toBe('/home/tester/sh/sources');
    expect(config.pricing).toMatchObject({ price_source: '/home/tester/prices.json', cache_hours: 1.5 });
  });

  it('does not expand backend paths (clone_dir, path sources, local backend dirs)', () => {
    const text = `backends:
  - {name: l, type: local, clone_dir: ~/c, work_dir: ~/w, max_concurrent: 3}
sources:
  - {name: p, type: path, path: ~/src, backend: l}
projects:
  - {name: q, backend: l, path: ~/proj}
`;
    const { config } = parseConfigText(text, 'x', { homeDir: HOME });
    expect(config.backends[0]).toEqual({
      name: 'l',
      type: 'local',
      ...LOCAL_EXTRAS,
      clone_dir: '~/c',
      work_dir: '~/w',
      inherit_env: [],
      max_concurrent: 3,
      login_shell: false,
    });
    expect(config.sources[0]).toMatchObject({ path: '~/src' });
    expect(config.projects[0]).toMatchObject({ path: '~/proj' });
  });
});

describe('missing files: warnings at load, errors when the backend is built', () => {
  it('warns at load time with positions', () => {
    const result = validateConfigText(SLURM('~/.ssh/nope'), 'scripthut.yaml', { homeDir: dir });
    expect(result.issues).toEqual([]);
    expect(result.warnings.map(formatIssue)).toEqual([
      `scripthut.yaml:7:7 backends[0].ssh.key_path: SSH key file not found: ${dir}/.ssh/nope`,
    ]);
    expect(result.warnings[0]!.severity).toBe('warning');
  });

  it('checkBackendFiles throws config_invalid; passes once the file exists', () => {
    const { config } = parseConfigText(SLURM('~/.ssh/key'), 'scripthut.yaml', { homeDir: dir });
    const backend = config.backends[0]!;
    let err: unknown;
    try {
      checkBackendFiles(backend);
    } catch (e) {
      err = e;
    }
    expect(ScriptHutError.is(err) && err.code).toBe('config_invalid');
    expect((err as Error).message).toBe(
      `backend 'hpc': 1 missing file(s)\nscripthut.yaml:7:7 backends[0].ssh.key_path: SSH key file not found: ${dir}/.ssh/key (backend 'hpc')`,
    );
    mkdirSync(join(dir, '.ssh'));
    writeFileSync(join(dir, '.ssh', 'key'), 'k');
    expect(() => checkBackendFiles(backend)).not.toThrow();
    expect(() => assertBackendUsable(backend)).not.toThrow();
  });

  it('deploy keys of sources and workflows are checked too', () => {
    const text = `backends: [{name: l, type: local}]
sources: [{name: s, type: git, url: u, backend: l, deploy_key: ~/dk}]
workflows: [{name: w, backend: l, command: c, git: {repo: r, deploy_key: /nonexistent/dk2}}]
`;
    const result = validateConfigText(text, 'f.yaml', { homeDir: dir });
    expect(result.warnings.map((w) => w.path)).toEqual([
      'sources[0].deploy_key',
      'workflows[0].git.deploy_key',
    ]);
  });

  it('ecs: the spec snippet alone names what it lacks; a complete entry is usable', () => {
    const r = validateConfigText(fixture('backend-ecs.yaml'), 'backend-ecs.yaml', { checkFiles: false });
    expect(r.issues.map(formatIssue)).toEqual([
      'backend-ecs.yaml:3:5 backends[0]: an ecs backend needs task_definition or default_image',
      'backend-ecs.yaml:3:5 backends[0].execution_role_arn: Fargate task definitions that ScriptHut registers need execution_role_arn (to pull the image and send logs)',
      'backend-ecs.yaml:3:5 backends[0].subnets: Fargate tasks need at least one subnet (awsvpc network mode)',
    ]);
    const config = load('backend-ecs-complete.yaml');
    expect(() => assertBackendUsable(config.backends[0]!)).not.toThrow();
  });
});

describe('server settings: auth_token, allowed_hosts, TLS', () => {
  const check = (t: string) => validateConfigText(t, 'f', { homeDir: HOME });
  it('a non-loopback host needs no configured token (one is generated), but a configured one must be long', () => {
    expect(check('settings: {server_host: 0.0.0.0}').issues).toEqual([]);
    expect(
      check(`settings: {server_host: 0.0.0.0, auth_token: ${'x'.repeat(MIN_REMOTE_TOKEN_LENGTH)}}`).issues,
    ).toEqual([]);
    expect(check('settings: {server_host: 127.0.0.1, auth_token: s3cret}').issues).toEqual([]);
    const short = check('settings:\n  server_host: 0.0.0.0\n  auth_token: s3cret\n').issues;
    expect(short).toHaveLength(1);
    expect(formatIssue(short[0] as Issue)).toBe(
      'f:3:3 settings.auth_token: a server on the non-loopback address "0.0.0.0" needs a token of at least 32 characters (this one has 6); remove auth_token to use the generated one',
    );
    expect(isLoopbackHost('127.0.0.1') && isLoopbackHost('localhost') && isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
  });
  it('allowed_hosts holds host names or IP addresses, nothing else', () => {
    const ok = check('settings: {allowed_hosts: [hut.example.org, 10.0.0.5, "::1", "[fe80::1]", node-7]}');
    expect(ok.issues).toEqual([]);
    expect(ok.config?.settings.allowed_hosts).toEqual([
      'hut.example.org',
      '10.0.0.5',
      '::1',
      '[fe80::1]',
      'node-7',
    ]);
    const bad = check('settings: {allowed_hosts: ["https://hut.example.org", "hut:8000", "a/b", ""]}').issues;
    expect(bad.map((i) => i.path)).toEqual([
      'settings.allowed_hosts[0]',
      'settings.allowed_hosts[1]',
      'settings.allowed_hosts[2]',
      'settings.allowed_hosts[3]',
    ]);
    expect(bad[0]?.message).toBe(
      'expected a host name or IP address without scheme, port or path, got "https://hut.example.org"',
    );
  });
  it('tls_cert and tls_key go together, are ~ expanded, and missing files are warnings', () => {
    const one = check('settings: {tls_cert: ~/c.pem}').issues;
    expect(one.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'settings.tls_key: tls_cert and tls_key go together: set both (https) or neither (http)',
    ]);
    const both = check('settings: {tls_cert: ~/c.pem, tls_key: ~/k.pem}');
    expect(both.issues).toEqual([]);
    expect(both.config?.settings).toMatchObject({ tls_cert: `${HOME}/c.pem`, tls_key: `${HOME}/k.pem` });
    expect(both.warnings.map((w) => w.message)).toEqual([
      `TLS certificate file not found: ${HOME}/c.pem`,
      `TLS key file not found: ${HOME}/k.pem`,
    ]);
  });
});

describe('JSON Schema', () => {
  it('the committed schema/scripthut.schema.json equals the generated one', () => {
    const committed = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', 'schema', 'scripthut.schema.json'), 'utf8'),
    );
    expect(committed).toEqual(configJsonSchema());
  });

  it('describes the documented enums, bounds and defaults', () => {
    const text = JSON.stringify(configJsonSchema());
    expect(text).toContain('"enum":["ondemand","spot_avg","spot_min","spot_max"]');
    expect(text).toContain('"default":22');
    expect(text).toContain('"maximum":65535');
    expect(text).toContain('"additionalProperties":false');
    expect(text).toContain('"const":"local"');
  });
});
