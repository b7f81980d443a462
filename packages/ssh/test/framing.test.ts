/**
 * The bootstrap command and program framing, run by real local shells that play the login shell
 * (sh and bash, with rc-file noise before the bootstrap runs). Cluster tests do the same over SSH
 * with tcsh and a noisy ~/.bashrc.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOTSTRAP_COMMAND, frameProgram, isStdinProgram, OutputFramer } from '../src/framing.js';

const home = mkdtempSync(join(tmpdir(), 'scripthut-framing-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Run the bootstrap the way sshd does: `<login shell> -c '<noise>; <bootstrap>'`, program on stdin. */
function viaLoginShell(
  shell: string,
  noise: string,
  program: string,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(shell, ['-c', `${noise} ${BOOTSTRAP_COMMAND}`], {
      cwd: home,
      env: { PATH: process.env.PATH, HOME: home },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(program);
  });
}

async function run(shell: string, noise: string, input: Parameters<typeof frameProgram>[0]) {
  const framed = frameProgram(input);
  const r = await viaLoginShell(shell, noise, framed.program);
  return {
    stdout: OutputFramer.strip(r.stdout, framed.marker).text,
    stderr: OutputFramer.strip(r.stderr, framed.marker).text,
    code: r.code,
  };
}

const NOISE = `printf 'Welcome to HPC (no newline)'; echo 'module: loaded x' >&2; echo 'set up' ;`;

describe('bootstrap and framing', () => {
  it('the bootstrap command is one line without `!` (csh history) or double quotes outside its argument', () => {
    expect(BOOTSTRAP_COMMAND).not.toMatch(/[\n!]/);
    expect(BOOTSTRAP_COMMAND.startsWith("exec /bin/bash --noprofile --norc -c '")).toBe(true);
    expect(BOOTSTRAP_COMMAND.endsWith("'")).toBe(true);
    expect(BOOTSTRAP_COMMAND.slice(BOOTSTRAP_COMMAND.indexOf("'") + 1, -1)).not.toContain("'");
  });

  for (const shell of ['sh', 'bash']) {
    it(`${shell} as login shell: noise before bash starts is dropped from stdout and stderr`, async () => {
      const r = await run(shell, NOISE, {
        command: 'echo "out $((6 * 7))"; echo err >&2; exit 7',
      });
      expect(r).toEqual({ stdout: 'out 42\n', stderr: 'err\n', code: 7 });
    });
  }

  it('a command gets its stdin byte-exact (binary, no trailing newline) and never the program', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 10, 39, 36, 40]);
    const r = await run('sh', NOISE, { command: 'od -An -tx1 | tr -s " \\n" " "; echo', stdin: bytes });
    expect(r.stdout.trim()).toBe('00 01 02 ff 0a 27 24 28');
    const empty = await run('sh', NOISE, { command: 'cat; echo "[$?]"' });
    expect(empty.stdout).toBe('[0]\n');
  });

  it('`bash -s` with stdin runs the stdin program itself, heredocs and trailing newlines intact', async () => {
    const program = "cat <<'EOF'\nline 1\n\n$(not expanded)\nEOF\nprintf 'end\\n\\n'\n\n";
    expect(isStdinProgram('bash -s', program)).toBe(true);
    expect(isStdinProgram('bash -s', undefined)).toBe(false);
    const r = await run('bash', NOISE, { command: 'bash -s', stdin: program });
    expect(r.stdout).toBe('line 1\n\n$(not expanded)\nend\n\n');
    expect(r.code).toBe(0);
  });

  it('cwd starting with "-" and hostile env values stay literal', async () => {
    mkdirSync(join(home, '-P'), { recursive: true });
    const r = await run('sh', NOISE, {
      command: 'pwd; printf "%s\\n" "$X"',
      cwd: '~/-P',
      env: { X: "it's $(rm -rf /) `x` \n2" },
    });
    expect(r.stdout).toBe(`${home}/-P\nit's $(rm -rf /) \`x\` \n2\n`);
    const missing = await run('sh', '', { command: 'echo never', cwd: '-nope' });
    expect(missing.stdout).toBe('');
    expect(missing.code).not.toBe(0);
  });

  it('OutputFramer holds text back until the marker line is complete, across chunks', () => {
    const f = new OutputFramer('@@M@@');
    expect(f.push('noise @@')).toBe('');
    expect(f.push('M@@')).toBe('');
    expect(f.started).toBe(false);
    expect(f.push('\nhello ')).toBe('hello ');
    expect(f.started).toBe(true);
    expect(f.push('world')).toBe('world');
    expect(f.end()).toBe('');
    const never = new OutputFramer('@@M@@');
    expect(never.push('bash: /bin/bash: not found\n')).toBe('');
    expect(never.end()).toBe('bash: /bin/bash: not found\n');
    expect(OutputFramer.strip('x', '@@M@@')).toEqual({ text: 'x', started: false });
    expect(() => frameProgram({ command: 'true', nonce: 'A B' })).toThrow(/nonce/);
  });
});
