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
