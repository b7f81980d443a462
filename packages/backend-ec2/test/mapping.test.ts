import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ecrRegistryOf,
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

/** Shims of the AMI: docker (records each call; `info` answers while the daemon "runs"), systemctl, dnf, aws. */
const SHIMS: Record<string, string> = {
  docker: `#!/bin/bash
if [ "$1" = info ]; then [ -e "$SH_TEST_OUT/dockerd.running" ]; exit $?; fi
printf '%s\\0' "$@" >> "$SH_TEST_OUT/docker.args"
printf '\\1' >> "$SH_TEST_OUT/docker.args"
[ "$1" = login ] && { cat > "$SH_TEST_OUT/login.stdin"; exit 0; }
[ "$1" = run ] && echo "container output"
exit 7
`,
  systemctl: `#!/bin/bash
echo "systemctl $*" >> "$SH_TEST_OUT/systemctl.calls"
[ "$1 $2" = "start docker" ] && touch "$SH_TEST_OUT/dockerd.running"
exit 0
`,
  // The package manager of an AMI that has docker in its repository: installs the docker shim.
  'dnf-installs': `#!/bin/bash
echo "dnf $*" >> "$SH_TEST_OUT/dnf.calls"
[ "$*" = "-y install docker" ] && cp "$SH_TEST_OUT/shims/docker" "$SH_TEST_OUT/bin/docker"
`,
  // ...and of one that has not.
  'dnf-fails': `#!/bin/bash
echo "dnf $*" >> "$SH_TEST_OUT/dnf.calls"
echo "Error: Unable to find a match: docker" >&2
exit 1
`,
  aws: `#!/bin/bash
echo "aws $*" >> "$SH_TEST_OUT/aws.calls"
[ "$1 $2" = "ecr get-login-password" ] && echo "ecr-password-from-the-instance-role"
`,
};

type AmiModel = 'docker' | 'docker-in-repo' | 'no-docker';

/**
 * Runs a user-data script with bash: /var paths relocated, the safety-timer line removed (asserted
 * present first), the AMI's commands replaced by shims (docker recorded, never real). Returns the
 * docker calls and the files.
 */
function execUserData(ud: string, name: string, ami: AmiModel = 'docker') {
  const dir = join(work, name);
  const bin = join(dir, 'bin');
  const shims = join(dir, 'shims');
  spawnSync('mkdir', ['-p', bin, shims]);
  for (const [n, text] of Object.entries(SHIMS)) writeFileSync(join(shims, n), text, { mode: 0o755 });
  const install = (shim: string, as: string) => writeFileSync(join(bin, as), SHIMS[shim]!, { mode: 0o755 });
  install('systemctl', 'systemctl');
  install('aws', 'aws');
  if (ami === 'docker') {
    install('docker', 'docker');
    writeFileSync(join(dir, 'dockerd.running'), '');
  } else install(ami === 'docker-in-repo' ? 'dnf-installs' : 'dnf-fails', 'dnf');
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
  const read = (f: string) => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      return null;
    }
  };
  const calls = (read('docker.args') ?? '')
    .split('\u0001')
    .filter(Boolean)
    .map((c) => c.split('\0').slice(0, -1));
  return {
    status: res.status,
    stderr: res.stderr,
    calls,
    pull: calls.find((c) => c[0] === 'pull') ?? [],
    run: calls.find((c) => c[0] === 'run') ?? [],
    login: calls.find((c) => c[0] === 'login') ?? null,
    loginStdin: read('login.stdin'),
    sentinel: read('var/run/scripthut/done'),
    reason: read('var/run/scripthut/reason'),
    log: read('var/log/scripthut/task.log') ?? '',
    taskScript: read('var/run/scripthut/task.sh'),
    systemctl: read('systemctl.calls'),
    dnf: read('dnf.calls'),
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

  it('installs and starts docker on an AMI that has it only in its repository (stock AL2023)', () => {
    const r = execUserData(renderUserData(base), 'al2023', 'docker-in-repo');
    expect(r.dnf).toBe('dnf -y install docker\n');
    expect(r.systemctl).toBe('systemctl start docker\n');
    expect(r.log).toContain('ScriptHut: docker is not installed on this AMI: installing it');
    expect(r.run.slice(-3)).toEqual(['ghcr.io/org/image:latest', 'bash', '/scripthut-task.sh']);
    expect(r.sentinel).toBe('7\n');
    expect(r.reason).toBeNull();
  });

  it('gives up with exit 127 and a reason when docker cannot be installed', () => {
    const r = execUserData(renderUserData(base), 'nodocker', 'no-docker');
    expect(r.status).toBe(127);
    expect(r.sentinel).toBe('127\n');
    expect(r.reason).toMatch(/docker is not installed on the AMI and could not be installed/);
    expect(r.calls).toEqual([]);
    expect(r.log).toContain('Unable to find a match: docker');
  });

  it('leaves a running docker alone', () => {
    const r = execUserData(renderUserData(base), 'ecs-ami', 'docker');
    expect(r.dnf).toBeNull();
    expect(r.systemctl).toBeNull();
  });

  it('logs in to a private ECR registry with the instance role before pulling', () => {
    const image = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/tool:1.2';
    expect(ecrRegistryOf(image)).toEqual({
      registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      region: 'eu-west-1',
    });
    expect(ecrRegistryOf('ghcr.io/org/image:1')).toBeNull();
    expect(ecrRegistryOf('public.ecr.aws/docker/library/ubuntu:24.04')).toBeNull();
    const ud = renderUserData({ ...base, image });
    const r = execUserData(ud, 'ecr');
    expect(r.login).toEqual([
      'login',
      '--username',
      'AWS',
      '--password-stdin',
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
    ]);
    // The password travels through a pipe: never in arguments, the log or the user-data.
    expect(r.loginStdin).toBe('ecr-password-from-the-instance-role\n');
    expect(r.log).not.toContain('ecr-password');
    expect(ud).not.toContain('ecr-password');
    expect(r.calls.map((c) => c[0])).toEqual(['login', 'pull', 'run']);
    expect(renderUserData(base)).not.toContain('docker login');
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
