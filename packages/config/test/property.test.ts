/**
 * Random documents never make the loader fail with anything but a config error, and every issue
 * has a non-empty path.
 */
import { ScriptHutError } from '@scripthut/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText, validateConfigText } from '../src/index.js';

const opts = { homeDir: '/home/p', checkFiles: false };

function check(text: string): void {
  const result = validateConfigText(text, 'p.yaml', opts);
  for (const issue of [...result.issues, ...result.warnings]) {
    expect(issue.path).not.toBe('');
    expect(issue.message).not.toBe('');
  }
  expect(result.config === undefined).toBe(result.issues.length > 0);
  try {
    parseConfigText(text, 'p.yaml', opts);
  } catch (e) {
    if (!ScriptHutError.is(e) || e.code !== 'config_invalid') throw e;
    expect(e.issues.length).toBeGreaterThan(0);
    expect(e.message.split('\n')).toHaveLength(e.issues.length + 1);
  }
}

const keys = fc.constantFrom(
  'backends',
  'sources',
  'workflows',
  'projects',
  'environments',
  'pricing',
  'settings',
  'name',
  'type',
  'ssh',
  'host',
  'user',
  'port',
  'key_path',
  'backend',
  'command',
  'git',
  'aws',
  'region',
  'job_queue',
  'default_image',
  'job_definition',
  'job_definition_mode',
  'variables',
  'partitions',
  'price_type',
  'poll_interval',
  'data_dir',
  'max_concurrent',
  'path',
  'url',
  'slurm',
  'batch',
  'local',
  'ecs',
  'ec2',
  'pbs',
  'git',
  '__proto__',
  'constructor',
  'toString',
  '',
);
const scalars = fc.oneof(
  fc.constantFrom('slurm', 'pbs', 'batch', 'ec2', 'ecs', 'local', 'git', 'path', 'spot_avg', '~', '~/x', 'a'),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalars, tie('list'), tie('map')),
  list: fc.array(tie('tree'), { maxLength: 4 }),
  map: fc.dictionary(fc.oneof(keys, fc.string()), tie('tree'), { maxKeys: 6 }),
}));
/** A document shaped roughly like a config: known sections holding lists of backend-ish maps. */
const plausible = fc.dictionary(
  keys,
  fc.oneof(fc.array(fc.dictionary(keys, tree, { maxKeys: 8 }), { maxLength: 3 }), tree),
  { maxKeys: 7 },
);

// A fixed amount of CPU-bound work (7,000 documents): on a busy 2-core machine it can take longer
// than the unit projects' 30 s default, so the limit here only guards against a hang.
describe('property: random documents', { timeout: 300_000 }, () => {
  it('random YAML-ish objects', () => {
    fc.assert(
      fc.property(fc.oneof(plausible, tree), (doc) => {
        check(stringify(doc));
      }),
      { numRuns: 2000 },
    );
  });

  it('random strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'binary' }),
          fc.stringMatching(/^[a-z_ :\-\n[\]{}'"&*!|>#%@`,?]{0,60}$/),
        ),
        (text) => {
          check(text);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('random mutations of a valid file', () => {
    const base = `backends:
  - name: hpc
    type: slurm
    ssh: {host: h, user: u}
workflows:
  - {name: w, backend: hpc, command: ls}
settings: {poll_interval: 60}
`;
    fc.assert(
      fc.property(
        fc.nat(base.length),
        fc.nat(base.length),
        fc.string({ maxLength: 5 }),
        (at, len, insert) => {
          check(base.slice(0, at) + insert + base.slice(Math.min(base.length, at + (len % 6))));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
