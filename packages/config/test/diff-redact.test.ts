import { describe, expect, it } from 'vitest';
import { diffConfigs, parseConfigText, redactConfig } from '../src/index.js';
import { HOME, load } from './helpers.js';

const parse = (t: string) => parseConfigText(t, 'x', { homeDir: HOME, checkFiles: false }).config;

describe('diffConfigs', () => {
  it('no changes', () => {
    expect(diffConfigs(load('complete-example.yaml'), load('complete-example.yaml'))).toEqual({
      live: [],
      restart: [],
    });
  });

  it('classifies every section', () => {
    const before = parse(`backends:
  - {name: a, type: local, max_concurrent: 2}
  - {name: b, type: local}
environments: [{name: e1}, {name: e2, variables: {X: "1", Y: "2"}}]
workflows: [{name: w1, backend: a, command: x}]
projects: [{name: p1, backend: a, path: /p}]
sources: [{name: s1, type: path, path: /s, backend: a}]
settings: {poll_interval: 60, filter_user: bob, auth_token: old-secret}
`);
    const after = parse(`backends:
  - {name: a, type: local, max_concurrent: 4}
  - {name: c, type: local}
environments: [{name: e2, variables: {Y: "2", X: "1"}}, {name: e3}]
workflows: [{name: w1, backend: a, command: y}, {name: w2, backend: a, command: z}]
projects: []
sources: [{name: s1, type: path, path: /s, backend: a}]
pricing: {partitions: {gpu: p3.2xlarge}}
settings: {poll_interval: 30, filter_user: alice, auth_token: new-secret, server_port: 9000}
`);
    expect(diffConfigs(before, after)).toEqual({
      live: [
        'environments: added "e3"',
        'environments: removed "e1"',
        'workflows: changed "w1"',
        'workflows: added "w2"',
        'projects: removed "p1"',
        'settings.filter_user: "bob" -> "alice"',
        'settings.auth_token: changed',
      ],
      restart: [
        'backends: changed "a"',
        'backends: added "c"',
        'backends: removed "b"',
        'pricing: added',
        'settings.poll_interval: 60 -> 30',
        'settings.server_port: 8000 -> 9000',
      ],
    });
  });

  it('pricing changes and removal need a restart', () => {
    const a = parse('pricing: {region: us-east-1}');
    const b = parse('pricing: {region: us-west-2}');
    expect(diffConfigs(a, b).restart).toEqual(['pricing: changed']);
    expect(diffConfigs(a, parse('{}')).restart).toEqual(['pricing: removed']);
  });
});

describe('redactConfig', () => {
  it('replaces auth_token, keeps key paths, does not touch the original', () => {
    const config = parse(
      'settings: {auth_token: hunter2}\nbackends: [{name: h, type: slurm, ssh: {host: h, user: u, key_path: /k}}]',
    );
    const red = redactConfig(config);
    expect(red.settings.auth_token).toBe('***');
    expect(JSON.stringify(red)).not.toContain('hunter2');
    expect(red.backends[0]).toMatchObject({ ssh: { key_path: '/k' } });
    expect(config.settings.auth_token).toBe('hunter2');
    expect(redactConfig(parse('{}')).settings.auth_token).toBeNull();
  });
});
