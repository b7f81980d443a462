import { describe, expect, it } from 'vitest';
import {
  configJsonSchema,
  formatIssue,
  parseConfigText,
  redactConfig,
  redactConfigText,
  validateConfigText,
} from '../src/index.js';
import { HOME } from './helpers.js';

const opts = { homeDir: HOME, checkFiles: false };
const parse = (t: string) => parseConfigText(t, 'scripthut.yaml', opts).config;
const lines = (text: string) => validateConfigText(text, 'scripthut.yaml', opts).issues.map(formatIssue);

const TEXT = `# my config
environments:
  - name: ml
    variables:
      DATA_DIR: /scratch/data        # plain
      HF_TOKEN: hf_abcdefgh           # secret by its name
      DB_URL: { value: "postgres://u:pw-0123@db/x", secret: true }
      SSH_KEY:
        value: /home/me/.ssh/id_ed25519
        secret: false                # opted out of the name rule
      PIN:
        value: 7
        secret: true
      MULTI: |
        not secret
  - name: other
    variables:
      API_KEY: "k-9876543"
settings:
  auth_token: tok-0123456789abcdef
`;

describe('secret environment variables in scripthut.yaml', () => {
  it('flattens { value, secret } entries and lists the secret names (explicit + name rule)', () => {
    const config = parse(TEXT);
    expect(config.environments[0]).toEqual({
      name: 'ml',
      variables: {
        DATA_DIR: '/scratch/data',
        HF_TOKEN: 'hf_abcdefgh',
        DB_URL: 'postgres://u:pw-0123@db/x',
        SSH_KEY: '/home/me/.ssh/id_ed25519',
        PIN: '7',
        MULTI: 'not secret\n',
      },
      secret_variables: ['DB_URL', 'HF_TOKEN', 'PIN'],
      extra_init: '',
    });
    expect(config.environments[1]!.secret_variables).toEqual(['API_KEY']);
  });

  it('reports wrong shapes with the field path', () => {
    expect(
      lines(`environments:
  - name: e
    variables:
      A: { value: x, secret: maybe }
      B: { secret: true }
      C: { value: x, sekret: true }
      D: [1]
`),
    ).toEqual([
      'scripthut.yaml:4:7 environments[0].variables.A: secret: expected a boolean (true or false), got "maybe"',
      'scripthut.yaml:5:7 environments[0].variables.B: value: required field is missing',
      'scripthut.yaml:6:22 environments[0].variables.C.sekret: unknown field "sekret"; did you mean "secret"?',
      'scripthut.yaml:7:7 environments[0].variables.D: expected a string (numbers and booleans are converted) or { value: "...", secret: true }, got a list',
    ]);
  });

  it('redactConfig hides secret values (and the token) and leaves the rest', () => {
    const config = parse(TEXT);
    const red = redactConfig(config);
    expect(red.environments[0]!.variables).toEqual({
      DATA_DIR: '/scratch/data',
      HF_TOKEN: '***',
      DB_URL: '***',
      SSH_KEY: '/home/me/.ssh/id_ed25519',
      PIN: '***',
      MULTI: 'not secret\n',
    });
    expect(red.environments[1]!.variables.API_KEY).toBe('***');
    expect(red.settings.auth_token).toBe('***');
    expect(config.environments[0]!.variables.HF_TOKEN).toBe('hf_abcdefgh');
  });

  it('redactConfigText rewrites the secret values in place, keeping layout and comments', () => {
    const config = parse(TEXT);
    const red = redactConfigText(TEXT, config);
    for (const secret of ['hf_abcdefgh', 'pw-0123', 'k-9876543', 'tok-0123456789abcdef'])
      expect(red).not.toContain(secret);
    expect(red).toBe(
      TEXT.replace('hf_abcdefgh', '"***"')
        .replace('"postgres://u:pw-0123@db/x"', '"***"')
        .replace('value: 7', 'value: "***"')
        .replace('"k-9876543"', '"***"')
        .replace('tok-0123456789abcdef', '"***"'),
    );
    // still a valid config of the same shape
    expect(parse(red).environments[0]!.secret_variables).toEqual(['DB_URL', 'HF_TOKEN', 'PIN']);
  });

  it('redactConfigText also catches a secret repeated elsewhere (alias, comment)', () => {
    const text = `environments:
  - name: e
    variables:
      A_TOKEN: &t secret-value-1
      COPY_TOKEN: *t
# note: secret-value-1 rotates monthly
`;
    const red = redactConfigText(text, parse(text));
    expect(red).not.toContain('secret-value-1');
  });

  it('the JSON Schema allows both forms', () => {
    const schema = JSON.stringify(configJsonSchema());
    expect(schema).toContain('"secret"');
  });
});

describe('default_image', () => {
  it('must be an image reference (a leading "-" would be a docker option)', () => {
    const text = `backends:
  - name: e
    type: ec2
    aws: { region: us-east-1 }
    ami: ami-1
    subnet_id: s-1
    default_image: --privileged
  - name: b
    type: batch
    aws: { region: us-east-1, job_queue: q }
    default_image: "ubuntu latest"
`;
    expect(lines(text)).toEqual([
      'scripthut.yaml:7:5 backends[0].default_image: image "--privileged" must not start with "-"',
      expect.stringMatching(
        /^scripthut\.yaml:11:5 backends\[1\]\.default_image: image "ubuntu latest" is not a valid image reference/,
      ),
    ]);
    expect(
      lines(text.replace('--privileged', 'ghcr.io/org/img:1').replace('ubuntu latest', 'ubuntu:24.04')),
    ).toEqual([]);
  });
});

describe('variable entries with several problems', () => {
  it('are one issue on one line', () => {
    const issues = validateConfigText(
      'environments:\n  - name: e\n    variables:\n      A: { value: [1], aa: 1, bb: 2 }\n',
      'scripthut.yaml',
      opts,
    ).issues;
    for (const i of issues) expect(formatIssue(i)).not.toContain('\n');
    expect(issues.length).toBeGreaterThan(0);
  });
});

describe('settings.notify_url', () => {
  const text = 'settings:\n  notify_url: "https://hooks.example.org/services/T0/B0/SECRETPART"\n';

  it('is a secret: redacted in the config view and in the file text', () => {
    const config = parse(text)!;
    expect(config.settings.notify_url).toBe('https://hooks.example.org/services/T0/B0/SECRETPART');
    expect(redactConfig(config).settings.notify_url).toBe('***');
    expect(redactConfigText(text, config)).not.toContain('SECRETPART');
    expect(parse('settings: {}\n')!.settings.notify_url).toBeUndefined();
  });

  it('must be an http(s) URL, named by its path', () => {
    expect(lines('settings:\n  notify_url: "ftp://x/y"\n')).toEqual([
      'scripthut.yaml:2:3 settings.notify_url: expected an http(s) URL, got "ftp://x/y"',
    ]);
  });
});
