import { ScriptHutError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { formatIssue, parseConfigText, validateConfigText } from '../src/index.js';
import { fixture, HOME } from './helpers.js';

const opts = { homeDir: HOME, checkFiles: false };
const lines = (text: string) => validateConfigText(text, 'scripthut.yaml', opts).issues.map(formatIssue);

describe('a file with five mistakes', () => {
  const text = fixture('five-mistakes.yaml');
  const expected = [
    'scripthut.yaml:7:7 backends[0].ssh.port: expected an integer from 1 to 65535, got "22x"',
    'scripthut.yaml:8:5 backends[1]: a batch backend needs job_definition or default_image',
    'scripthut.yaml:16:5 workflows[0].backend: unknown backend "hcp"; did you mean "hpc"?',
    'scripthut.yaml:20:3 pricing.price_type: expected one of "ondemand", "spot_avg", "spot_min", "spot_max", got "spot"; did you mean "spot_avg"?',
    'scripthut.yaml:23:3 settings.pol_interval: unknown field "pol_interval"; did you mean "poll_interval"?',
  ];

  it('reports all five with line:column and field path', () => {
    const result = validateConfigText(text, 'scripthut.yaml', opts);
    expect(result.config).toBeUndefined();
    expect(result.issues.map(formatIssue)).toEqual(expected);
    for (const issue of result.issues)
      expect(issue).toMatchObject({ file: 'scripthut.yaml', severity: 'error' });
  });

  it('throws ONE config_invalid error whose message lists every issue, one per line', () => {
    let caught: unknown;
    try {
      parseConfigText(text, 'scripthut.yaml', opts);
    } catch (e) {
      caught = e;
    }
    expect(ScriptHutError.is(caught)).toBe(true);
    const err = caught as ScriptHutError;
    expect(err.code).toBe('config_invalid');
    expect(err.message).toBe(['scripthut.yaml: 5 configuration errors', ...expected].join('\n'));
    expect(err.issues).toHaveLength(5);
    expect(err.issues[0]).toMatchObject({ path: 'backends[0].ssh.port', line: 7, column: 7 });
  });
});

describe('individual rules', () => {
  it('YAML syntax errors carry line:column and are all reported', () => {
    const out = lines('settings:\n  poll_interval: 30\n  poll_interval: 40\nbackends: [\n');
    expect(out.length).toBeGreaterThanOrEqual(2);
    expect(out[0]).toMatch(/^scripthut\.yaml:3:3 \(yaml\): YAML syntax error: Map keys must be unique/);
    expect(out.at(-1)).toMatch(/^scripthut\.yaml:\d+:\d+ \(yaml\): YAML syntax error: /);
  });

  it('duplicate names in every named section', () => {
    const text = `backends:
  - {name: a, type: local}
  - {name: a, type: local}
sources:
  - {name: s, type: path, path: /x, backend: a}
  - {name: s, type: path, path: /y, backend: a}
workflows:
  - {name: w, backend: a, command: x}
  - {name: w, backend: a, command: y}
projects:
  - {name: p, backend: a, path: /p}
  - {name: p, backend: a, path: /q}
environments:
  - {name: e}
  - {name: e}
`;
    expect(lines(text)).toEqual([
      'scripthut.yaml:3:6 backends[1].name: duplicate name "a" (already used by backends[0])',
      'scripthut.yaml:6:6 sources[1].name: duplicate name "s" (already used by sources[0])',
      'scripthut.yaml:9:6 workflows[1].name: duplicate name "w" (already used by workflows[0])',
      'scripthut.yaml:12:6 projects[1].name: duplicate name "p" (already used by projects[0])',
      'scripthut.yaml:15:6 environments[1].name: duplicate name "e" (already used by environments[0])',
    ]);
  });

  it('backend references from sources, workflows and projects must name a defined backend', () => {
    const text = `sources:
  - {name: s, type: path, path: /x, backend: nowhere}
projects:
  - {name: p, backend: nowhere, path: /p}
`;
    expect(lines(text)).toEqual([
      'scripthut.yaml:2:37 sources[0].backend: unknown backend "nowhere" (no backends are defined)',
      'scripthut.yaml:4:15 projects[0].backend: unknown backend "nowhere" (no backends are defined)',
    ]);
  });

  it('missing required fields point at the enclosing mapping', () => {
    const text = 'backends:\n  - name: x\n    type: slurm\n    ssh:\n      host: h\n';
    expect(lines(text)).toEqual(['scripthut.yaml:4:5 backends[0].ssh.user: required field is missing']);
  });

  it('missing and unknown backend types', () => {
    expect(lines('backends:\n  - name: x\n')).toEqual([
      'scripthut.yaml:2:5 backends[0].type: required field is missing; expected one of "slurm", "pbs", "batch", "ec2", "ecs", "local"',
    ]);
    expect(lines('backends:\n  - name: x\n    type: kubernetes\n')).toEqual([
      'scripthut.yaml:3:5 backends[0].type: expected one of "slurm", "pbs", "batch", "ec2", "ecs", "local", got "kubernetes"',
    ]);
  });

  it('bounds', () => {
    const text = `backends:
  - name: b
    type: batch
    aws: {region: r, job_queue: q}
    default_image: img
    retry_attempts: 11
    max_concurrent: 0
  - name: e
    type: ec2
    aws: {region: r}
    ami: a
    subnet_id: s
    idle_terminate_seconds: 59
    startup_timeout_seconds: 10
    max_instances: 0
settings:
  server_port: 70000
  poll_interval: 4.5
`;
    expect(lines(text)).toEqual([
      'scripthut.yaml:6:5 backends[0].retry_attempts: expected an integer from 1 to 10, got 11',
      'scripthut.yaml:7:5 backends[0].max_concurrent: expected an integer >= 1, got 0',
      'scripthut.yaml:13:5 backends[1].idle_terminate_seconds: expected an integer >= 60, got 59',
      'scripthut.yaml:14:5 backends[1].startup_timeout_seconds: expected an integer >= 60, got 10',
      'scripthut.yaml:15:5 backends[1].max_instances: expected an integer >= 1, got 0',
      'scripthut.yaml:17:3 settings.server_port: expected an integer from 1 to 65535, got 70000',
      'scripthut.yaml:18:3 settings.poll_interval: expected an integer >= 5, got 4.5',
    ]);
  });

  it('batch fair-share fields are checked: share identifier characters, priority 0..9999', () => {
    const text = `backends:
  - name: b
    type: batch
    aws: {region: r, job_queue: q}
    default_image: i
    share_identifier: "team a"
    scheduling_priority: 10000
    assign_public_ip: "yes"
`;
    expect(lines(text)).toEqual([
      'scripthut.yaml:6:5 backends[0].share_identifier: expected up to 255 letters, digits or "_" (optionally followed by "*")',
      'scripthut.yaml:7:5 backends[0].scheduling_priority: expected an integer from 0 to 9999, got 10000',
      'scripthut.yaml:8:5 backends[0].assign_public_ip: expected a boolean (true or false), got "yes"',
    ]);
    const ok = validateConfigText(
      'backends:\n  - {name: b, type: batch, aws: {region: r, job_queue: q}, default_image: i, share_identifier: lab_1, scheduling_priority: 0, assign_public_ip: true}\n',
      'scripthut.yaml',
    );
    expect(ok.issues).toEqual([]);
    expect(ok.config!.backends[0]).toMatchObject({
      share_identifier: 'lab_1',
      scheduling_priority: 0,
      assign_public_ip: true,
    });
  });

  it('batch revisions mode needs a job definition', () => {
    const text =
      'backends:\n  - {name: b, type: batch, aws: {region: r, job_queue: q}, default_image: i, job_definition_mode: revisions}\n';
    expect(lines(text)).toEqual([
      'scripthut.yaml:2:78 backends[0].job_definition_mode: job_definition_mode "revisions" needs job_definition (the template to register revisions of)',
    ]);
  });

  it('type errors name what was expected and what was found', () => {
    const text = `backends:
  - name: x
    type: local
    login_shell: yes
environments:
  - name: e
    variables:
      1BAD: x
      OK: [1, 2]
pricing:
  cache_hours: 0
`;
    expect(lines(text)).toEqual([
      'scripthut.yaml:4:5 backends[0].login_shell: expected a boolean (true or false), got "yes"',
      'scripthut.yaml:8:7 environments[0].variables["1BAD"]: key "1BAD" is not a valid environment variable name (letters, digits and "_", not starting with a digit)',
      'scripthut.yaml:9:7 environments[0].variables.OK: expected a string (numbers and booleans are converted) or { value: "...", secret: true }, got a list',
      'scripthut.yaml:11:3 pricing.cache_hours: expected a positive number of hours, got 0',
    ]);
  });

  it('unknown keys without a close match list the allowed fields; top level too', () => {
    expect(lines('stacks: []\nsettings:\n  zzz: 1\n')).toEqual([
      'scripthut.yaml:1:1 stacks: unknown field "stacks" (allowed: backends, sources, workflows, projects, environments, env, env_groups, pricing, settings)',
      'scripthut.yaml:3:3 settings.zzz: unknown field "zzz" (allowed: poll_interval, server_host, server_port, data_dir, sources_cache_dir, filter_user, retention_days, auth_token, allowed_hosts, tls_cert, tls_key, notify_url)',
    ]);
  });

  it('a document that is not a mapping', () => {
    expect(lines('- a\n- b\n')).toEqual([
      'scripthut.yaml:1:1 (root): expected a mapping of sections (backends, settings, ...), got a list',
    ]);
  });

  it('empty file and empty sections are the defaults', () => {
    const empty = validateConfigText('# nothing\n', 'x.yaml', opts);
    const sections = validateConfigText('backends:\nsources:\nworkflows:\nsettings:\n', 'x.yaml', opts);
    expect(empty.issues).toEqual([]);
    expect(sections.config).toEqual(empty.config);
    expect(empty.config?.settings.poll_interval).toBe(60);
  });
});

describe('Slurm site-policy fields', () => {
  const backend = (extra: string) => `backends:
  - name: hpc
    type: slurm
    ssh: {host: login, user: me}
${extra}`;

  it('accepts qos, constraint, reservation, exclusive, clusters and extra_directives', () => {
    const text = backend(`    qos: high
    constraint: "gpu&a100"
    reservation: maint
    exclusive: user
    clusters: c1,c2
    extra_directives: ["--mail-type=END", "--signal=B:USR1@60"]
`);
    const result = validateConfigText(text, 'scripthut.yaml', opts);
    expect(result.issues).toEqual([]);
    expect(result.config!.backends[0]).toMatchObject({
      qos: 'high',
      constraint: 'gpu&a100',
      reservation: 'maint',
      exclusive: 'user',
      clusters: 'c1,c2',
      extra_directives: ['--mail-type=END', '--signal=B:USR1@60'],
    });
  });

  it('names the field and the position of every bad value', () => {
    const out = lines(
      backend(`    qos: "-M other"
    constraint: "a b"
    exclusive: yes
    extra_directives:
      - --output=/tmp/x
      - -q high
`),
    );
    expect(out).toEqual([
      'scripthut.yaml:5:5 backends[0].qos: expected a QOS name, got "-M other"',
      'scripthut.yaml:6:5 backends[0].constraint: expected node features such as "gpu" or "a100&ib", got "a b"',
      'scripthut.yaml:7:5 backends[0].exclusive: expected true, false, "user", "mcs" or "topo", got "yes"',
      'scripthut.yaml:9:9 backends[0].extra_directives[0]: option --output is not allowed here: use the task’s output_file',
      'scripthut.yaml:10:9 backends[0].extra_directives[1]: use the long form of the option (--name or --name=value), got "-q high"',
    ]);
  });

  it('refuses environment variables reserved for the job script', () => {
    const out = lines(`environments:
  - name: e
    variables: {__SCRIPTHUT_MARKER: x, PATH: /opt/bin}
`);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(
      /environments\[0\]\.variables\.__SCRIPTHUT_MARKER.*reserved for ScriptHut's job script/,
    );
  });
});
