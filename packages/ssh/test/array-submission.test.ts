/**
 * The array submission program run by the real local bash: markers, links (one perl, or a bash
 * loop where perl is missing), one submission command, markers removed on refusal. The commands a
 * program starts are counted through logging wrappers put first on PATH.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ArraySubmitProgramSpec,
  buildArraySubmitProgram,
  type LinkPair,
  markersRemoveLine,
  symlinkLines,
} from '../src/array-submission.js';
import { parseSubmitAnswerLine } from '../src/remote-programs.js';
import { type LocalBash, localBash } from './local-bash.js';

let bash: LocalBash;
beforeEach(() => {
  bash = localBash();
});
afterEach(() => bash.dispose());

const WRAPPED = ['ln', 'perl', 'rm'];
/** The tools a submission program uses, for a PATH without perl. */
const TOOLS = ['bash', 'ln', 'rm', 'mkdir', 'find', 'mktemp', 'base64', 'tr', 'cat', 'dirname', 'env'];

/**
 * A bin dir whose `ln`, `perl` and `rm` log each start to `<home>/calls` and then run the real
 * tool; `withPerl: false` leaves perl out (and the system dirs off PATH).
 */
function wrappedPath(withPerl: boolean): string {
  const bin = join(bash.home, withPerl ? 'bin' : 'bin-noperl');
  mkdirSync(bin);
  for (const tool of withPerl ? WRAPPED : TOOLS) {
    const real = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find(existsSync)!;
    if (!WRAPPED.includes(tool)) symlinkSync(real, join(bin, tool));
    else if (tool !== 'perl' || withPerl) {
      writeFileSync(join(bin, tool), `#!/bin/sh\necho ${tool} >>'${bash.home}/calls'\nexec ${real} "$@"\n`);
      chmodSync(join(bin, tool), 0o755);
    }
  }
  return withPerl ? `${bin}:${process.env.PATH}` : bin;
}

function calls(): string[] {
  const file = join(bash.home, 'calls');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
}

const count = (list: string[], name: string) => list.filter((c) => c === name).length;

function spec(k: number, submitCommand: string): ArraySubmitProgramSpec {
  const logs = join(bash.home, "logs it's");
  const links = join(logs, '.scripthut-arrays');
  const tags = Array.from({ length: k }, (_, i) => `sh0a1b2c3d${i}`);
  return {
    script: '#!/bin/bash\necho array\n',
    tags,
    links: tags.flatMap((t, i): LinkPair[] => [
      [`${links}/arr.${i}.out`, `${logs}/${t}.out`],
      [`${links}/arr.${i}.err`, `${logs}/${t}.err`],
    ]),
    dirs: [logs, links],
    markerDir: join(bash.home, 'markers'),
    homeLine: 'cd "$HOME" || exit 90',
    tmpPrefix: 'scripthut-test',
    submitCommand,
  };
}

async function runProgram(program: string, path: string) {
  return bash.run(`PATH='${path}' bash -s`, { stdin: program });
}

describe('buildArraySubmitProgram', () => {
  it('500 elements: every marker and link with ONE perl and no ln; one submission answered as index 0', async () => {
    const s = spec(500, '{ cat >"$HOME/submitted"; echo 4242; }');
    const r = await runProgram(buildArraySubmitProgram(s), wrappedPath(true));
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    const answer = r.stdout
      .split('\n')
      .map((l) => parseSubmitAnswerLine(l.split('\t')))
      .filter((a) => a !== null);
    expect(answer).toEqual([{ index: 0, rc: 0, stdout: '4242\n', stderr: '' }]);
    expect(readFileSync(join(bash.home, 'submitted'), 'utf8')).toBe(s.script);
    for (const tag of s.tags) expect(readFileSync(join(s.markerDir, `${tag}.rc`), 'utf8')).toBe('');
    for (const [link, target] of s.links) expect(readlinkSync(link)).toBe(target);
    const started = calls();
    expect(count(started, 'perl')).toBe(1);
    expect(count(started, 'ln')).toBe(0);
    expect(count(started, 'rm')).toBeLessThanOrEqual(1); // the trap's rm -rf "$T"
  });

  it('without perl the links are made by a bash loop, with the same result', async () => {
    const s = spec(3, '{ cat >/dev/null; echo 7; }');
    const r = await runProgram(buildArraySubmitProgram(s), wrappedPath(false));
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('J\t0\t0\t7\n');
    for (const [link, target] of s.links) expect(readlinkSync(link)).toBe(target);
    expect(count(calls(), 'ln')).toBe(6);
  });

  it('a refused array loses every marker with one rm; the answer carries the refusal', async () => {
    const s = spec(50, '( cat >/dev/null; echo "qsub: illegal -J value" >&2; exit 3 )');
    const r = await runProgram(buildArraySubmitProgram(s), wrappedPath(true));
    const answer = r.stdout
      .split('\n')
      .map((l) => parseSubmitAnswerLine(l.split('\t')))
      .find((a) => a !== null);
    expect(answer).toEqual({ index: 0, rc: 3, stdout: '', stderr: 'qsub: illegal -J value\n' });
    for (const tag of s.tags) expect(existsSync(join(s.markerDir, `${tag}.rc`))).toBe(false);
    expect(count(calls(), 'rm')).toBe(2); // the markers, then the trap's rm -rf "$T"
  });

  it('runs the lines of `after` last, with $rc set', async () => {
    const s = { ...spec(1, '{ cat >/dev/null; echo 1; }'), after: ['printf "after %s\\n" "$rc"'] };
    const r = await runProgram(buildArraySubmitProgram(s), wrappedPath(true));
    expect(r.stdout.endsWith('after 0\n')).toBe(true);
  });
});

describe('symlinkLines', () => {
  it('replaces existing links (also one to a directory, as ln -sfn) and quotes odd paths on their own line', async () => {
    const d = join(bash.home, 'd');
    mkdirSync(d);
    symlinkSync(d, join(bash.home, 'to-dir'));
    writeFileSync(join(bash.home, 'plain'), 'x');
    const pairs: LinkPair[] = [
      [join(bash.home, 'to-dir'), '/target/one'],
      [join(bash.home, 'plain'), '/target/two $(touch pwned)'],
      [join(bash.home, 'new\nline'), '/target/three'],
      ['~/tilde link', '/target/tab\there'],
    ];
    const lines = symlinkLines(pairs);
    expect(lines).toHaveLength(3); // one heredoc block + two quoted ln lines
    expect(lines.filter((l) => l.startsWith('ln -sfn -- '))).toHaveLength(2);
    const r = await runProgram(`${lines.join('\n')}\n`, wrappedPath(true));
    expect(r.stderr).toBe('');
    expect(readlinkSync(join(bash.home, 'to-dir'))).toBe('/target/one');
    expect(readlinkSync(join(bash.home, 'plain'))).toBe('/target/two $(touch pwned)');
    expect(readlinkSync(join(bash.home, 'new\nline'))).toBe('/target/three');
    expect(readlinkSync(join(bash.home, 'tilde link'))).toBe('/target/tab\there');
    expect(existsSync(join(bash.home, 'pwned'))).toBe(false);
    expect(symlinkLines([])).toEqual([]);
  });

  it('reports a link it cannot create on stderr (and goes on with the others)', async () => {
    const pairs: LinkPair[] = [
      [join(bash.home, 'missing-dir', 'a'), '/t/a'],
      [join(bash.home, 'b'), '/t/b'],
    ];
    const r = await runProgram(`${symlinkLines(pairs).join('\n')}\n`, wrappedPath(true));
    expect(r.stderr).toContain(`cannot create symbolic link ${join(bash.home, 'missing-dir', 'a')}`);
    expect(readlinkSync(join(bash.home, 'b'))).toBe('/t/b');
  });

  it('markersRemoveLine: one rm of every marker, quoted', () => {
    expect(markersRemoveLine(['a1', 'b2'])).toBe(`rm -f -- "$M"/a1.rc "$M"/b2.rc 2>/dev/null`);
    expect(markersRemoveLine([])).toBe('true');
  });
});
