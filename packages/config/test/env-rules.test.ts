// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests write the ${NAME} syntax of env rules and shell references
/** env / env_groups rules, partition_map and ssh.control_path in scripthut.yaml. */
import { describe, expect, it } from 'vitest';
import {
  checkBackendFiles,
  formatIssue,
  groupCycle,
  parseConfigText,
  validateConfigText,
} from '../src/index.js';
import { HOME } from './helpers.js';

const opts = { homeDir: HOME, checkFiles: false };
const issues = (text: string) => validateConfigText(text, 'scripthut.yaml', opts).issues.map(formatIssue);
const warnings = (text: string, checkFiles = false) =>
  validateConfigText(text, 'scripthut.yaml', { homeDir: HOME, checkFiles }).warnings.map(formatIssue);

const GOOD = `env:
  - set: { PROJECT: sweep }
  - if: { SCRIPTHUT_BACKEND: [hpc, hpc2], GPU: 1 }
    include: [cuda]
env_groups:
  cuda:
    - init: module load cuda/12
    - append: { PATH: /opt/cuda/bin }
backends:
  - name: hpc
    type: slurm
    ssh: { host: login.hpc.edu, user: me, control_path: "~/.ssh/cm-%r@%h:%p" }
    partition_map: { cpu: long, gpu: gpu-a100 }
    env:
      - if: { SCRIPTHUT_BACKEND: hpc }
        set: { SCRATCH: "/scratch/\${USER}", THREADS: 8 }
    env_groups:
      py: [{ init: module load python/3.12 }]
  - name: laptop
    type: local
    env: [{ include: [py] }]
`;

describe('env rules in scripthut.yaml', () => {
  it('parses server and backend rules, groups and partition_map (scalars become strings)', () => {
    const { config } = parseConfigText(GOOD, 'scripthut.yaml', opts);
    expect(config.env).toEqual([
      { set: { PROJECT: 'sweep' } },
      { if: { SCRIPTHUT_BACKEND: ['hpc', 'hpc2'], GPU: '1' }, include: ['cuda'] },
    ]);
    expect(config.env_groups.cuda).toEqual([
      { init: 'module load cuda/12' },
      { append: { PATH: '/opt/cuda/bin' } },
    ]);
    const hpc = config.backends[0]!;
    expect(hpc.type).toBe('slurm');
    if (hpc.type !== 'slurm') throw new Error('unreachable');
    expect(hpc.partition_map).toEqual({ cpu: 'long', gpu: 'gpu-a100' });
    expect(hpc.env).toEqual([
      { if: { SCRIPTHUT_BACKEND: 'hpc' }, set: { SCRATCH: '/scratch/${USER}', THREADS: '8' } },
    ]);
    expect(hpc.ssh.control_path).toBe('~/.ssh/cm-%r@%h:%p'); // not expanded: ssh expands it
    expect(config.backends[1]).toMatchObject({ env: [{ include: ['py'] }], env_groups: {} });
  });

  it('reports every mistake with its position, field path and a suggestion', () => {
    const text = `env:
  - sett: { A: 1 }
  - if: { SCRIPTHUT_BACKEND: hpc }
  - set: { SCRIPTHUT_RUN_ID: x, 1BAD: y, __SCRIPTHUT_RC: z }
env_groups:
  a: [{ include: [b] }]
  b: [{ include: [a] }]
backends:
  - name: hpc
    type: slurm
    ssh: { host: h, user: u, control_path: "~/.ssh/cm-%x" }
    partition_map: { cpu: long, long: short, gpu: -bad }
  - name: l
    type: local
    partition_map: { a: b }
`;
    expect(issues(text)).toEqual([
      'scripthut.yaml:2:5 env[0].sett: unknown field "sett"; did you mean "set"?',
      'scripthut.yaml:3:5 env[1]: an env rule needs at least one of set, append, init or include',
      'scripthut.yaml:4:12 env[2].set.SCRIPTHUT_RUN_ID: key "SCRIPTHUT_RUN_ID" is set by ScriptHut: env rules cannot change SCRIPTHUT_* variables',
      'scripthut.yaml:4:33 env[2].set["1BAD"]: key "1BAD" is not a valid environment variable name (letters, digits and "_", not starting with a digit)',
      'scripthut.yaml:4:42 env[2].set.__SCRIPTHUT_RC: key "__SCRIPTHUT_RC" is reserved for ScriptHut\'s job script (__SCRIPTHUT_*)',
      'scripthut.yaml:6:3 env_groups.a: env_groups include each other in a cycle: a -> b -> a',
      'scripthut.yaml:11:30 backends[0].ssh.control_path: unknown token "%x" (supported: %%, %C, %d, %h, %i, %k, %L, %l, %n, %p, %r, %u)',
      'scripthut.yaml:12:33 backends[0].partition_map.long: "long" is mapped to "short" and is also what "cpu" is mapped to; a mapping is applied once, so map "cpu" straight to the partition it should end up in',
      'scripthut.yaml:12:46 backends[0].partition_map.gpu: expected a partition name (letters, digits, _.,:+@-; not starting with "-"), got "-bad"',
      'scripthut.yaml:15:5 backends[1].partition_map: unknown field "partition_map" (allowed: name, type, max_concurrent, login_shell, clone_dir, work_dir, inherit_env, env, env_groups)',
    ]);
  });

  it("finds include cycles through a backend's groups, and in groupCycle", () => {
    const text = `env_groups:
  a: [{ include: [b] }]
backends:
  - name: hpc
    type: local
    env_groups:
      b: [{ include: [a] }]
`;
    expect(issues(text)).toEqual([
      'scripthut.yaml:7:7 backends[0].env_groups.b: env_groups include each other in a cycle: b -> a -> b',
    ]);
    expect(groupCycle({ x: [{ include: ['x'] }] })).toEqual(['x', 'x']);
    expect(groupCycle({ x: [{ include: ['y', 'unknown'] }], y: [{}] })).toBeNull();
  });
});

describe('ssh.control_path', () => {
  const base = `backends:
  - name: hpc
    type: slurm
    ssh:
      host: login.hpc.edu
      user: me
      control_path: ~/.ssh/cm-%r@%h:%p
`;

  it('needs no key: missing key files are neither warnings nor build errors', () => {
    expect(warnings(base, true)).toEqual([]);
    const { config } = parseConfigText(base, 'scripthut.yaml', { homeDir: '/nonexistent-home' });
    expect(() => checkBackendFiles(config.backends[0]!)).not.toThrow();
    // without control_path the same file warns about the missing default key
    expect(warnings(base.replace(/ {6}control_path.*\n/, ''), true)).toEqual([
      'scripthut.yaml:4:5 backends[0].ssh.key_path: SSH key file not found: /home/tester/.ssh/id_rsa',
    ]);
  });

  it('warns about key settings that have no effect next to it', () => {
    const text = `${base}      key_path: ~/.ssh/id_ed25519\n      known_hosts: ~/.ssh/known_hosts\n`;
    expect(warnings(text)).toEqual([
      'scripthut.yaml:8:7 backends[0].ssh.key_path: not used when ssh.control_path is set (commands go through the OpenSSH master connection, which has already logged in)',
      'scripthut.yaml:9:7 backends[0].ssh.known_hosts: not used when ssh.control_path is set (commands go through the OpenSSH master connection, which has already logged in)',
    ]);
  });

  it('refuses "none", a leading "-" and host or user names that could be options', () => {
    const text = `backends:
  - name: a
    type: pbs
    ssh: { host: -oProxyCommand=x, user: "me me", control_path: none }
  - name: b
    type: slurm
    ssh: { host: h, user: u, control_path: -x }
`;
    expect(issues(text)).toEqual([
      'scripthut.yaml:4:12 backends[0].ssh.host: expected a host name without spaces, not starting with "-", got "-oProxyCommand=x"',
      'scripthut.yaml:4:36 backends[0].ssh.user: expected a user name without spaces, not starting with "-", got "me me"',
      'scripthut.yaml:4:51 backends[0].ssh.control_path: "none" turns connection sharing off; remove control_path to use the built-in SSH client',
      'scripthut.yaml:7:30 backends[1].ssh.control_path: must not start with "-"',
    ]);
  });

  it('warns when a PBS queue makes partition_map useless', () => {
    const text = `backends:
  - name: p
    type: pbs
    queue: batch
    ssh: { host: h, user: u, control_path: /tmp/%C }
    partition_map: { cpu: workq }
`;
    expect(warnings(text)).toEqual([
      'scripthut.yaml:6:5 backends[0].partition_map: not used: queue "batch" overrides the partition of every task on this backend',
    ]);
  });
});
