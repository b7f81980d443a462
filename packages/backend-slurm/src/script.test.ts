import { describe, expect, it } from 'vitest';
import { makeRequest } from '../test/requests.js';
import { renderSlurmScript, ScriptRenderError, sbatchQuote, slurmDirectives } from './script.js';

describe('sbatchQuote', () => {
  it('leaves plain words alone and double-quotes the rest with escapes', () => {
    expect(sbatchQuote('normal')).toBe('normal');
    expect(sbatchQuote('/home/u/logs/x.out')).toBe('/home/u/logs/x.out');
    expect(sbatchQuote('/home/u/my logs/x.out')).toBe('"/home/u/my logs/x.out"');
    expect(sbatchQuote('a "b" \\c #d')).toBe('"a \\"b\\" \\\\c #d"');
    expect(sbatchQuote('')).toBe('""');
  });
  it('rejects newlines', () => {
    expect(() => sbatchQuote('a\nb')).toThrow(ScriptRenderError);
    expect(() => sbatchQuote('a\rb')).toThrow(/newline/);
  });
});

describe('slurmDirectives', () => {
  it('renders every directive in order, with tag + readable name as job name and the name as a quoted comment', () => {
    const req = makeRequest('r1t0', {
      name: 'Build "x" #1',
      partition: 'normal',
      cpus: 4,
      memory: '8G',
      timeLimit: '2:00:00',
      gres: 'gpu:v100:1',
    });
    expect(
      slurmDirectives(req, { account: 'pi lab', resolvePath: (p) => p.replace(/^~/, '/home/u') }),
    ).toEqual([
      '#SBATCH --job-name=r1t0-Build_x_1',
      '#SBATCH --comment="Build \\"x\\" #1"',
      '#SBATCH --partition=normal',
      '#SBATCH --account="pi lab"',
      '#SBATCH --cpus-per-task=4',
      '#SBATCH --mem=8G',
      '#SBATCH --time=2:00:00',
      '#SBATCH --gres=gpu:v100:1',
      '#SBATCH --output=/home/u/scripthut-logs/run1/build.out',
      '#SBATCH --error=/home/u/scripthut-logs/run1/build.err',
    ]);
  });
  it('omits partition, account and gres when unset; task output_file/error_file win over the defaults', () => {
    const req = makeRequest('t1', { outputFile: '/scratch/o.log', errorFile: '/scratch/my err.log' });
    const d = slurmDirectives(req);
    expect(d.some((l) => /--(partition|account|gres)/.test(l))).toBe(false);
    expect(d).toContain('#SBATCH --output=/scratch/o.log');
    expect(d).toContain('#SBATCH --error="/scratch/my err.log"');
  });
  it('rejects values with newlines and bad tags', () => {
    expect(() => slurmDirectives(makeRequest('t1', { partition: 'normal\n#SBATCH --x' }))).toThrow(
      /partition cannot contain a newline/,
    );
    expect(() => slurmDirectives(makeRequest('t1', { name: 'two\nlines' }))).toThrow(/task name/);
    expect(() => slurmDirectives(makeRequest('bad tag'))).toThrow(/invalid job tag/);
  });
});

describe('site policy and log paths', () => {
  it('renders qos, clusters, constraint, reservation, exclusive and extra directives; a task overrides its backend', () => {
    const policy = {
      qos: 'normal',
      constraint: 'cpu',
      exclusive: true as const,
      clusters: 'c1',
      extraDirectives: ['--requeue'],
    };
    const req = makeRequest('p1', {
      qos: 'high prio',
      constraint: '[rack1*2&rack2*4]',
      reservation: 'maint',
      exclusive: 'user',
      extraDirectives: ['--mail-type=END,FAIL', '--comment-x=a "b"'],
    });
    expect(slurmDirectives(req, { policy }).slice(-8)).toEqual([
      '#SBATCH --qos="high prio"',
      '#SBATCH --clusters=c1',
      '#SBATCH --constraint="[rack1*2&rack2*4]"',
      '#SBATCH --reservation=maint',
      '#SBATCH --exclusive=user',
      '#SBATCH --requeue',
      '#SBATCH --mail-type=END,FAIL',
      '#SBATCH --comment-x="a \\"b\\""',
    ]);
    const plain = slurmDirectives(makeRequest('p2', { exclusive: false, qos: null }), { policy });
    expect(plain).not.toContain('#SBATCH --exclusive');
    expect(plain.some((l) => l.startsWith('#SBATCH --qos'))).toBe(false);
    expect(plain).toContain('#SBATCH --constraint=cpu');
  });

  it('extra directives that ScriptHut owns or that are not long options fail the render, naming the entry', () => {
    expect(() => slurmDirectives(makeRequest('p3', { extraDirectives: ['--ok', '--output=/x'] }))).toThrow(
      /extra_directives\[1\]: option --output is not allowed here/,
    );
    expect(() => slurmDirectives(makeRequest('p3', { extraDirectives: ['-p gpu'] }))).toThrow(/long form/);
  });

  it('doubles % in log paths (sbatch expands %j…) and refuses backslashes', () => {
    const d = slurmDirectives(makeRequest('p4', { outputFile: '/s/100%_%j.out', errorFile: '/s/e%.err' }));
    expect(d).toContain('#SBATCH --output=/s/100%%_%%j.out');
    expect(d).toContain('#SBATCH --error=/s/e%%.err');
    expect(() => slurmDirectives(makeRequest('p5', { outputFile: '/s/a\\b.out' }))).toThrow(
      /output file cannot contain a backslash/,
    );
  });
});

describe('renderSlurmScript', () => {
  it('uses a login shell when asked, and writes the exit marker', () => {
    const script = renderSlurmScript(makeRequest('t9'), {
      loginShell: true,
      exitMarkerPath: '~/.cache/scripthut/markers/t9.rc',
    });
    const lines = script.split('\n');
    expect(lines[0]).toBe('#!/bin/bash -l');
    expect(lines[1]).toBe('#SBATCH --job-name=t9-Build_it');
    expect(script).toContain('"$HOME"/.cache/scripthut/markers/t9.rc');
    expect(script).toContain('echo hello');
    expect(renderSlurmScript(makeRequest('t9')).startsWith('#!/bin/bash\n')).toBe(true);
  });
  it('turns invalid environment names into a render error', () => {
    expect(() => renderSlurmScript(makeRequest('t1', {}, { env: { 'BAD-NAME': 'x' } }))).toThrow(
      ScriptRenderError,
    );
  });
});
