import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  instanceTags,
  instanceTypeFor,
  renderTaskScript,
  renderUserData,
  ssmSessionArgs,
  wantsGpu,
} from '../src/index.js';
import { request } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'ec2-ud-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const DOCKER_SHIM = `#!/bin/bash
# records every argument NUL-separated, then runs nothing
printf '%s\\0' "$@" >> "$SH_TEST_OUT/docker.args"
printf '\\n--\\n' >> "$SH_TEST_OUT/docker.sep"
[ "$1" = run ] && echo "container output"
exit 7
`;

/**
 * Runs a user-data script with bash: /var paths relocated, the safety-timer line removed (asserted
 * present first), docker replaced by a recorder. Returns the args of `docker run` and the files.
 */
function execUserData(ud: string, name: string) {
  const dir = join(work, name);
  const bin = join(dir, 'bin');
  spawnSync('mkdir', ['-p', bin]);
  writeFileSync(join(bin, 'docker'), DOCKER_SHIM, { mode: 0o755 });
  const timer = '( sleep "$SCRIPTHUT_SAFETY_SECONDS"; shutdown -h now ) </dev/null >/dev/null 2>&1 &';
  expect(ud).toContain(timer);
  const script = ud
    .replace(timer, ': safety timer removed in tests')
    .replace(/^SCRIPTHUT_RUN_DIR=\/var\//m, `SCRIPTHUT_RUN_DIR=${dir}/var/`)
    .replace(/^SCRIPTHUT_LOG_DIR=\/var\//m, `SCRIPTHUT_LOG_DIR=${dir}/var/`);
  const res = spawnSync('bash', ['-c', script], {
    env: { PATH: `${bin}:/usr/bin:/bin`, SH_TEST_OUT: dir, HOME: dir },
    encoding: 'utf8',
  });
  const args = readFileSync(join(dir, 'docker.args'), 'utf8').split('\0').slice(0, -1);
  const runAt = args.indexOf('run');
  return {
    status: res.status,
    stderr: res.stderr,
    pull: args.slice(0, runAt),
    run: args.slice(runAt),
    sentinel: readFileSync(join(dir, 'var/run/scripthut/done'), 'utf8'),
    log: readFileSync(join(dir, 'var/log/scripthut/task.log'), 'utf8'),
    taskScript: readFileSync(join(dir, 'var/run/scripthut/task.sh'), 'utf8'),
  };
}

function envOf(run: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (let i = 0; i < run.length; i++) {
    if (run[i] === '-e') {
      const kv = run[++i]!;
      const eq = kv.indexOf('=');
      env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
  }
  return env;
}

const base = {
  runId: 'ab12cd34',
  taskId: 'build',
  image: 'ghcr.io/org/image:latest',
  script: '#!/bin/bash\necho hi\n',
  env: { A: '1' },
  timeLimitSeconds: 3600,
  idleTerminateSeconds: 1800,
};

describe('renderUserData', () => {
  it('runs the container under timeout, tees the log and writes the sentinel last', () => {
    const ud = renderUserData({ ...base, script: renderTaskScript(request({ command: 'echo "it works"' })) });
    expect(ud).not.toMatch(/^\s*set -[a-z]*x/m);
    expect(ud).not.toMatch(/^\s*set -o xtrace/m);
    expect(ud).toMatch(/^set -uo pipefail$/m);
    expect(ud).toMatch(/^SCRIPTHUT_SAFETY_SECONDS=5400$/m);
    expect(ud).toContain('timeout --kill-after=30 3600s docker run --rm');
    expect(ud.trimEnd().split('\n').pop()).toMatch(
      /mv -f "\$SCRIPTHUT_RUN_DIR\/done.tmp" "\$SCRIPTHUT_RUN_DIR\/done"$/,
    );
    const r = execUserData(ud, 'basic');
    expect(r.pull).toEqual(['pull', 'ghcr.io/org/image:latest']);
    expect(r.run.slice(0, 4)).toEqual([
      'run',
      '--rm',
      '-v',
      `${join(work, 'basic')}/var/run/scripthut/task.sh:/scripthut-task.sh:ro`,
    ]);
    expect(r.run.slice(-3)).toEqual(['ghcr.io/org/image:latest', 'bash', '/scripthut-task.sh']);
    expect(r.sentinel).toBe('7\n'); // the shim's exit code, through timeout and the pipe
    expect(r.log).toContain('container output');
    expect(r.taskScript).toContain('echo "it works"');
    expect(r.taskScript).toContain(
      '# Environment delivered by the backend (values not shown): SCRIPTHUT_RUN_ID SCRIPTHUT_TASK_ID',
    );
  });

  it('passes hostile environment values through docker -e byte for byte', () => {
    const hostile = {
      QUOTE: `it's "quoted" \`id\` $(touch ${work}/pwned) $HOME \\`,
      NEWLINES: 'line1\nline2\n\nSCRIPTHUT_B64\nEOF\n',
      EMPTY: '',
      EQUALS: 'a=b=c',
      UNICODE: 'héllo 🎉 \t tab',
    };
    const ud = renderUserData({ ...base, env: hostile });
    const r = execUserData(ud, 'hostile');
    expect(envOf(r.run)).toEqual(hostile);
    expect(spawnSync('test', ['-e', join(work, 'pwned')]).status).toBe(1);
  });

  it('property: any env values and ids survive quoting', () => {
    let n = 0;
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,8}$/),
          fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0')),
          { maxKeys: 4 },
        ),
        fc.string({ maxLength: 20 }).filter((s) => !s.includes('\0')),
        (env, taskId) => {
          const ud = renderUserData({ ...base, env, taskId, image: `img:${n}` });
          const r = execUserData(ud, `prop-${n++}`);
          expect(envOf(r.run)).toEqual(env);
          expect(r.sentinel).toBe('7\n');
        },
      ),
      { numRuns: 12 },
    );
  });

  it('rejects invalid variable names and adds --gpus for GPU tasks', () => {
    expect(() => renderUserData({ ...base, env: { 'BAD-NAME': 'x' } })).toThrow(
      /invalid environment variable name/,
    );
    expect(renderUserData({ ...base, gpu: true })).toContain('--gpus all');
    expect(renderUserData(base)).not.toContain('--gpus');
    expect(wantsGpu({ gres: 'gpu:2' })).toBe(true);
    expect(wantsGpu({ gres: 'mps:1' })).toBe(false);
  });

  it('uses a time limit of at least one second', () => {
    expect(renderUserData({ ...base, timeLimitSeconds: 0 })).toContain(
      'timeout --kill-after=30 1s docker run',
    );
  });
});

describe('instanceTypeFor', () => {
  it('maps partitions, falls back to default, then the first entry', () => {
    const types = { default: 'c5.xlarge', gpu: 'g4dn.xlarge' };
    expect(instanceTypeFor('gpu', types)).toBe('g4dn.xlarge');
    expect(instanceTypeFor('unknown', types)).toBe('c5.xlarge');
    expect(instanceTypeFor('normal', types)).toBe('c5.xlarge');
    expect(instanceTypeFor(null, types)).toBe('c5.xlarge');
    expect(instanceTypeFor('x', { zeta: 'm5.large', alpha: 't3.small' })).toBe('t3.small');
    expect(instanceTypeFor('x', {})).toBe('c5.xlarge');
  });
});

describe('instanceTags', () => {
  it('carries backend, run, task, tag and Name; ScriptHut tags win over extra_tags', () => {
    const tags = instanceTags({
      prefix: 'sh',
      backendName: 'aws-ec2',
      runId: 'ab12cd34',
      taskId: 't'.repeat(300),
      tag: 'shab12cd34x0',
      extraTags: { Environment: 'research', 'sh:backend': 'spoofed' },
    });
    const map = Object.fromEntries(tags.map((t) => [t.Key, t.Value]));
    expect(map).toMatchObject({
      Environment: 'research',
      'sh:backend': 'aws-ec2',
      'sh:run-id': 'ab12cd34',
      'sh:tag': 'shab12cd34x0',
    });
    expect(map['sh:task-id']).toHaveLength(256);
    expect(map.Name!.startsWith('scripthut-ttt')).toBe(true);
    expect(map.Name).toHaveLength(256);
  });
});

describe('ssmSessionArgs', () => {
  it('builds the port-forwarding session command', () => {
    expect(
      ssmSessionArgs({ instanceId: 'i-1', region: 'us-east-2', profile: 'p', remotePort: 22 }, 40001),
    ).toEqual([
      'ssm',
      'start-session',
      '--target',
      'i-1',
      '--document-name',
      'AWS-StartPortForwardingSession',
      '--parameters',
      'portNumber=22,localPortNumber=40001',
      '--region',
      'us-east-2',
      '--profile',
      'p',
    ]);
  });
});
