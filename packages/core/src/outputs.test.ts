// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these tests hold bash parameter expansions
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adhoc, setup, specs } from '../test/helpers.js';
import type { OutputListing, OutputListingRequest } from './outputs.js';
import {
  boundOutputFiles,
  captureSummary,
  isSafeOutputPath,
  OUTPUT_LIMITS,
  outputContentType,
  outputKind,
  taskOutputPaths,
} from './outputs.js';
import { buildJobScript } from './script.js';
import { FakeBackend, MemoryRunStore } from './testing/index.js';

describe('output paths', () => {
  it('puts a task under <logDir>/outputs/<run>/tasks/<stem> and its run fragment apart', () => {
    expect(taskOutputPaths('~/logs/wf/', 'abcd1234', 'fit.a', 3)).toEqual({
      dir: '~/logs/wf/outputs/abcd1234/tasks/fit.a',
      taskSummary: '~/logs/wf/outputs/abcd1234/tasks/fit.a/task-summary.md',
      runSummary: '~/logs/wf/outputs/abcd1234/run-summary/fit.a.md',
    });
    // unsafe ids get a sanitised stem + seq (two ids that sanitise alike stay apart)
    expect(taskOutputPaths('/l', 'r', '../x y', 7).dir).toBe('/l/outputs/r/tasks/__x_y_7');
    expect(taskOutputPaths('/l', 'r', 'a/b', 1).dir).not.toBe(taskOutputPaths('/l', 'r', 'a_b', 2).dir);
  });

  it.each([
    ['plot.png', true],
    ['sub/dir/file.txt', true],
    ['..', false],
    ['../etc/passwd', false],
    ['a/../../b', false],
    ['/etc/passwd', false],
    ['a//b', false],
    ['./a', false],
    ['a\\b', false],
    ['a\nb', false],
    ['a\0b', false],
    ['', false],
    ['x'.repeat(OUTPUT_LIMITS.maxPathLength + 1), false],
  ])('isSafeOutputPath(%j) = %s', (path, safe) => {
    expect(isSafeOutputPath(path)).toBe(safe);
  });

  it('bounds raw entries: unsafe skipped, at most maxFiles, big ones marked, sorted', () => {
    const entries = [
      { path: 'z.txt', size: 1, mtimeMs: 0 },
      { path: '../x', size: 1, mtimeMs: 0 },
      { path: 'big.bin', size: OUTPUT_LIMITS.maxFileBytes + 1, mtimeMs: 1000 },
      ...Array.from({ length: OUTPUT_LIMITS.maxFiles }, (_, i) => ({ path: `f${i}`, size: 2, mtimeMs: 0 })),
    ];
    const r = boundOutputFiles(entries);
    expect(r.files).toHaveLength(OUTPUT_LIMITS.maxFiles);
    expect(r.truncated).toBe(true);
    expect(r.skipped).toBe(1);
    expect(r.files.find((f) => f.path === 'big.bin')).toMatchObject({ tooLarge: true });
    expect(r.files.map((f) => f.path)).toEqual([...r.files.map((f) => f.path)].sort());
    expect(boundOutputFiles([{ path: 'a', size: 1, mtimeMs: 0 }])).toMatchObject({ truncated: false });
    expect(boundOutputFiles([{ path: 'a', size: 1, mtimeMs: 0 }], true).truncated).toBe(true);
  });

  it('captures summaries up to the cap without a broken character', () => {
    const long = Buffer.from('é'.repeat(OUTPUT_LIMITS.maxSummaryBytes));
    const c = captureSummary(long, long.length);
    expect(c.truncated).toBe(true);
    expect(c.text).not.toContain('\uFFFD');
    expect(captureSummary(Buffer.from('# ok'), 4)).toEqual({ text: '# ok', truncated: false });
  });

  it('serves raster images as images and everything else (SVG, HTML) as bytes', () => {
    expect(outputKind('a/plot.PNG')).toBe('image');
    expect(outputContentType('a/plot.PNG')).toBe('image/png');
    expect(outputKind('x.md')).toBe('markdown');
    expect(outputKind('x.svg')).toBe('other');
    expect(outputContentType('x.svg')).toBe('application/octet-stream');
    expect(outputContentType('x.html')).toBe('application/octet-stream');
  });
});

describe('job script with outputs (real bash)', () => {
  it('exports the three variables, creates both directories before the command, expands ~/', () => {
    const home = mkdtempSync(join(tmpdir(), 'scripthut-out-'));
    try {
      const paths = taskOutputPaths("~/logs/it's", 'r0000001', 'plot', 0);
      const script = buildJobScript({
        taskId: 'plot',
        taskName: 'plot',
        command:
          'test -d "$SCRIPTHUT_OUTPUT_DIR" && test -d "${SCRIPTHUT_RUN_SUMMARY%/*}" && echo "# T" >"$SCRIPTHUT_TASK_SUMMARY" && echo R >"$SCRIPTHUT_RUN_SUMMARY" && printf %s "$SCRIPTHUT_OUTPUT_DIR"',
        workingDir: '~',
        // a task HOME does not move the outputs; a task SCRIPTHUT_* could not be set (dropped upstream)
        env: { HOME: '/nonexistent' },
        outputs: paths,
      });
      const r = spawnSync('bash', ['-c', script], {
        env: { PATH: process.env.PATH, HOME: home },
        encoding: 'utf8',
      });
      expect(r.status).toBe(0);
      const dir = join(home, "logs/it's/outputs/r0000001/tasks/plot");
      expect(r.stdout).toContain(dir);
      expect(readFileSync(join(dir, 'task-summary.md'), 'utf8')).toBe('# T\n');
      expect(readFileSync(join(home, "logs/it's/outputs/r0000001/run-summary/plot.md"), 'utf8')).toBe('R\n');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('has no output variables when the backend gives none (Batch, EC2)', () => {
    const script = buildJobScript({ taskId: 't', taskName: 't', command: 'true', workingDir: '~', env: {} });
    expect(script).not.toContain('SCRIPTHUT_OUTPUT_DIR');
    expect(existsSync('/nonexistent')).toBe(false);
  });
});

describe('engine: output listings', () => {
  function withListing(fake: FakeBackend, answer: (r: OutputListingRequest) => OutputListing) {
    const calls: OutputListingRequest[][] = [];
    let fail: Error | null = null;
    Object.assign(fake, {
      listOutputs: async (requests: OutputListingRequest[]) => {
        calls.push(requests);
        if (fail) {
          const e = fail;
          fail = null;
          throw e;
        }
        return new Map(requests.map((r) => [r.key, answer(r)]));
      },
    });
    return { calls, failNext: (e: Error) => (fail = e) };
  }
  const listing = (over: Partial<OutputListing> = {}): OutputListing => ({
    missing: false,
    files: [{ path: 'plot.png', size: 3, mtime: new Date(0).toISOString() }],
    truncated: false,
    skipped: 0,
    taskSummary: { text: '# t', truncated: false },
    runSummary: { text: 'frag', truncated: false },
    ...over,
  });

  it('lists every ended task in ONE call per tick and records it; submissions carry the paths', async () => {
    const store = new MemoryRunStore();
    const fake = new FakeBackend({ maxConcurrent: 10, pollsToComplete: 1 });
    const { calls } = withListing(fake, () => listing());
    const s = await setup({ store, fake, engine: { outputStore: store } });
    const run = adhoc(s.engine, specs(...Array.from({ length: 30 }, (_, i) => ({ id: `t${i}` }))));
    await s.drive();
    await s.engine.tick('fake');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThanOrEqual(s.fake.statusCalls.length + 1); // at most one per tick
    // each task is listed exactly once
    const keys = calls.flat().map((r) => r.key);
    expect(new Set(keys).size).toBe(30);
    expect(keys).toHaveLength(30);
    expect(store.getTaskOutputs(run.id, 't3')).toMatchObject({ files: [{ path: 'plot.png' }], error: null });
    expect(store.runSummaryFragments(run.id).map((f) => f.taskId)).toEqual(
      Array.from({ length: 30 }, (_, i) => `t${i}`),
    );
    const sub = fake.submitCalls.flat().find((r) => r.taskId === 't3')!;
    expect(sub.outputs?.dir).toBe(`${run.logDir}/outputs/${run.id}/tasks/t3`);
  });

  it('collects nothing without an outputStore', async () => {
    const fake = new FakeBackend({ maxConcurrent: 10, pollsToComplete: 1 });
    const { calls } = withListing(fake, () => listing());
    const s = await setup({ fake });
    adhoc(s.engine, specs({ id: 'a' }));
    await s.drive();
    await s.engine.tick('fake');
    expect(calls).toHaveLength(0);
  });

  it('retries a failed listing with backoff without failing the tick, and rechecks a missing dir once', async () => {
    const store = new MemoryRunStore();
    let missing = true;
    const s = await setup({ store, engine: { outputStore: store } });
    const { calls, failNext } = withListing(s.fake, () => listing({ missing, files: [] }));
    const run = adhoc(s.engine, specs({ id: 'a' }));
    failNext(new Error('ssh down'));
    await s.drive();
    await s.engine.tick('fake');
    expect(s.engine.backendState('fake').lastError).toBeNull(); // not a backend error
    expect(store.getTaskOutputs(run.id, 'a')).toBeNull();
    const before = calls.length;
    await s.engine.tick('fake'); // backoff: not due yet
    expect(calls.length).toBe(before);
    s.clock.advance(6_000);
    await s.engine.tick('fake'); // retried: the directory is missing → looked at again later
    expect(calls.length).toBe(before + 1);
    expect(store.getTaskOutputs(run.id, 'a')).toBeNull();
    missing = false;
    s.clock.advance(31_000);
    await s.engine.tick('fake');
    expect(store.getTaskOutputs(run.id, 'a')).toMatchObject({ missing: false });
  });

  it('at start, queues the tasks that ended without a listing', async () => {
    const first = await setup();
    const run = adhoc(first.engine, specs({ id: 'a' }, { id: 'b' }));
    await first.drive();
    await first.engine.stop();
    const fake = new FakeBackend({ maxConcurrent: 10, pollsToComplete: 1 });
    const { calls } = withListing(fake, () => listing()); // before start: restore sees listOutputs
    const again = await setup({ store: first.store, fake, engine: { outputStore: first.store } });
    await again.engine.tick('fake');
    expect(
      calls
        .flat()
        .map((r) => r.key)
        .sort(),
    ).toEqual([`${run.id}\na`, `${run.id}\nb`]);
  });
});
