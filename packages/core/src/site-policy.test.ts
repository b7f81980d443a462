import { describe, expect, it } from 'vitest';
import { CONSTRAINT_RE, effectiveSitePolicy, isExclusiveMode, parseSbatchDirective } from './site-policy.js';

describe('parseSbatchDirective', () => {
  it('accepts long options with and without values (values may hold spaces, quotes, =)', () => {
    expect(parseSbatchDirective('--mail-type=END,FAIL')).toEqual({ name: 'mail-type', value: 'END,FAIL' });
    expect(parseSbatchDirective(' --requeue ')).toEqual({ name: 'requeue', value: null });
    expect(parseSbatchDirective('--comment-x=a "b" c=d')).toEqual({ name: 'comment-x', value: 'a "b" c=d' });
  });

  it('refuses short forms, non-options, newlines and the options ScriptHut owns, saying what to use', () => {
    expect(parseSbatchDirective('-q high')).toMatch(/use the long form/);
    expect(parseSbatchDirective('mail-type=END')).toMatch(/must be an sbatch option/);
    expect(parseSbatchDirective('--x=a\nb')).toBe('must be one line');
    expect(parseSbatchDirective('--output=/tmp/x')).toMatch(
      /--output is not allowed here: use the task’s output_file/,
    );
    expect(parseSbatchDirective('--qos=high')).toMatch(/use the qos field/);
    expect(parseSbatchDirective('--clusters=a')).toMatch(/clusters field/);
    expect(parseSbatchDirective('--array=1-10')).toMatch(
      /ScriptHut makes job arrays itself \(backend or workflow `array: auto`/,
    );
    expect(parseSbatchDirective('--wait')).toMatch(/block/);
    expect(parseSbatchDirective('--mem-per-cpu=1G')).toMatch(/exclude each other/);
  });
});

describe('effectiveSitePolicy and value syntax', () => {
  it('task values (even null/false) replace the backend’s; directives are concatenated', () => {
    const backend = { qos: 'normal', constraint: 'cpu', exclusive: true, extraDirectives: ['--requeue'] };
    expect(
      effectiveSitePolicy(backend, {
        qos: 'high',
        exclusive: false,
        constraint: null,
        extraDirectives: ['--x'],
      }),
    ).toEqual({
      qos: 'high',
      constraint: null,
      reservation: null,
      exclusive: false,
      clusters: null,
      extraDirectives: ['--requeue', '--x'],
    });
    expect(effectiveSitePolicy(backend, {})).toMatchObject({
      qos: 'normal',
      constraint: 'cpu',
      exclusive: true,
    });
  });

  it('constraints take Slurm expressions but never start with "-"', () => {
    for (const ok of ['gpu', 'a100&ib', '[rack1*2&rack2*4]', '(a|b)&c', 'x,y'])
      expect(CONSTRAINT_RE.test(ok)).toBe(true);
    for (const bad of ['-x', 'a b', 'a;b', '', 'a\nb', "a'b"]) expect(CONSTRAINT_RE.test(bad)).toBe(false);
    expect([true, false, 'user', 'mcs', 'topo'].every(isExclusiveMode)).toBe(true);
    expect(['yes', 1, null].some(isExclusiveMode)).toBe(false);
  });
});
