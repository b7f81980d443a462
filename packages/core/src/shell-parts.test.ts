// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests write the ${NAME} syntax of env rules and shell references
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellExportParts } from './shell.js';

/** Runs `line` in bash with `env` and prints the exported variable. */
function run(line: string, name: string, env: Record<string, string>): string {
  return execFileSync('bash', ['--noprofile', '--norc', '-c', `${line}\nprintf '%s' "$${name}"`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
}

describe('shellExportParts', () => {
  it('quotes literal parts and lets the job shell expand references', () => {
    const line = shellExportParts('SCRATCH', ['/scratch/', { ref: 'USER' }, "/it's $(id) `x`"]);
    expect(line).toBe(`export SCRATCH=/scratch/"\${USER}"'/it'\\''s $(id) \`x\`'`);
    expect(run(line, 'SCRATCH', { USER: 'alice' })).toBe("/scratch/alice/it's $(id) `x`");
  });

  it('adds a separator only when the referenced variable is set', () => {
    const line = shellExportParts('LD_LIBRARY_PATH', [
      { ref: 'LD_LIBRARY_PATH', ifSetSuffix: ':' },
      '/opt/lib',
    ]);
    expect(line).toBe('export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH}:}"/opt/lib');
    expect(run(line, 'LD_LIBRARY_PATH', {})).toBe('/opt/lib');
    expect(run(line, 'LD_LIBRARY_PATH', { LD_LIBRARY_PATH: '/a' })).toBe('/a:/opt/lib');
  });

  it('writes an empty value as two quotes and refuses bad names', () => {
    expect(shellExportParts('E', [])).toBe("export E=''");
    expect(() => shellExportParts('1X', ['a'])).toThrow(/invalid environment variable name/);
    expect(() => shellExportParts('X', [{ ref: 'A;B' }])).toThrow(/invalid variable reference/);
    expect(() => shellExportParts('X', [{ ref: 'A', ifSetSuffix: '"$(id)' }])).toThrow(/invalid suffix/);
  });
});
