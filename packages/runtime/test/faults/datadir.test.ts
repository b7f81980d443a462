/**
 * A data directory that fails for real: a 2 MiB tmpfs filled to the last byte (SQLITE_FULL), then
 * remounted read-only. The runtime must report a clear `store_error` naming the database file and the
 * cause, keep serving reads, keep its engine alive, and after the disk is restored the database must
 * pass `PRAGMA integrity_check` with every earlier run still there.
 *
 * Needs root (or passwordless sudo) to mount the tmpfs, like the cluster tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ScriptHutError } from '@scripthut/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'sh-datadir-'));
const mnt = join(root, 'data');
const dbFile = join(mnt, 'scripthut.db');
const quiet = { info() {}, warn() {}, error() {} };
let mounted = false;

function privileged(cmd: string, args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  execFileSync(isRoot ? cmd : 'sudo', isRoot ? args : ['-n', cmd, ...args], { stdio: 'pipe' });
}

/** better-sqlite3 resolved from the store package (its owner), to inspect the file independently. */
function openDb(path: string) {
  const req = createRequire(resolve(import.meta.dirname, '../../../store/package.json'));
  const Database = req('better-sqlite3') as new (
    p: string,
    o?: { readonly?: boolean },
  ) => {
    pragma(s: string): unknown;
    prepare(s: string): { all(): unknown[] };
    close(): void;
  };
  return new Database(path, { readonly: true });
}

async function waitDone(rt: Runtime, runId: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = rt.getRun(runId);
    if (!['pending', 'running'].includes(s.status)) return s;
    if (Date.now() > deadline) throw new Error(`run ${runId} not finished: ${JSON.stringify(s.counts)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function expectStoreError(e: unknown, cause: RegExp): void {
  expect(ScriptHutError.is(e), `not a ScriptHutError: ${String(e)}`).toBe(true);
  const err = e as ScriptHutError;
  expect(err.code).toBe('store_error');
  expect(err.message).toContain(dbFile);
  expect(err.message).toMatch(cause);
}

describe('data directory on a full, then read-only, disk', () => {
  let rt: Runtime;
  const before: string[] = [];

  beforeAll(() => {
    mkdirSync(mnt);
    privileged('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0755', 'tmpfs', mnt]);
    mounted = true;
  });

  afterAll(async () => {
    await rt?.close().catch(() => undefined);
    if (mounted) privileged('umount', ['-l', mnt]);
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('reports store_error naming the file and the cause, survives, and keeps every earlier run', async () => {
    rt = await createRuntime({ cwd: root, dataDir: mnt, pollIntervalMs: 100, logger: quiet });
    await rt.start();
    for (let i = 0; i < 3; i++) {
      const r = await rt.runAdhocTask({ command: `echo before ${i}`, backend: 'local', id: `before-${i}` });
      before.push(r.run.id);
    }
    for (const id of before) expect((await waitDone(rt, id)).status).toBe('completed');
    // One run still in flight while the disk fills: the engine must survive and finish it later.
    const inflight = await rt.runAdhocTask({
      command: 'sleep 2; echo survived',
      backend: 'local',
      id: 'inflight',
    });

    // ---- fill the disk to the last block.
    let filler = 0;
    try {
      for (;;) writeFileSync(join(mnt, `fill-${filler++}`), Buffer.alloc(64 * 1024));
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    try {
      for (;;) writeFileSync(join(mnt, `fill-${filler++}`), Buffer.alloc(512));
    } catch {
      // full
    }

    // Creating runs now fails with a clear error (not a crash, not a silent loss).
    let failure: unknown = null;
    for (let i = 0; i < 50 && !failure; i++) {
      try {
        await rt.runAdhocTask({ command: `echo ${'x'.repeat(50_000)}`, backend: 'local', id: `full-${i}` });
      } catch (e) {
        failure = e;
      }
    }
    expect(failure, 'no error although the disk is full').not.toBeNull();
    expectStoreError(failure, /full|space/i);
    if (process.env.FAULTS_VERBOSE) console.log(`full disk: ${(failure as Error).message}`);
    // Reads still work.
    expect(rt.listRuns({ limit: 100 }).items.map((s) => s.run.id)).toEqual(expect.arrayContaining(before));

    // ---- restore space: the engine (still running) finishes the in-flight run.
    for (let i = 0; i < filler; i++) rmSync(join(mnt, `fill-${i}`), { force: true });
    const done = await waitDone(rt, inflight.run.id);
    expect(done.status).toBe('completed');
    const after = await rt.runAdhocTask({ command: 'echo after', backend: 'local', id: 'after' });
    expect((await waitDone(rt, after.run.id)).status).toBe('completed');

    // ---- restart on the same data dir: the database is intact and complete.
    await rt.close();
    const db = openDb(dbFile);
    try {
      expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    } finally {
      db.close();
    }

    // ---- read-only data dir at startup: a clear error naming the path and the cause.
    privileged('mount', ['-o', 'remount,ro', mnt]);
    let roFailure: unknown = null;
    try {
      const ro = await createRuntime({ cwd: root, dataDir: mnt, pollIntervalMs: 100, logger: quiet });
      await ro.runAdhocTask({ command: 'echo ro', backend: 'local', id: 'ro' }).finally(() => ro.close());
    } catch (e) {
      roFailure = e;
    } finally {
      privileged('mount', ['-o', 'remount,rw', mnt]);
    }
    expect(ScriptHutError.is(roFailure), `not a ScriptHutError: ${String(roFailure)}`).toBe(true);
    if (process.env.FAULTS_VERBOSE) console.log(`read-only: ${(roFailure as Error).message}`);
    expect((roFailure as Error).message).toContain(mnt);
    expect((roFailure as Error).message).toMatch(/read-?only|EROFS/i);

    rt = await createRuntime({ cwd: root, dataDir: mnt, pollIntervalMs: 100, logger: quiet });
    const ids = rt.listRuns({ limit: 100 }).items.map((s) => s.run.id);
    expect(ids).toEqual(expect.arrayContaining([...before, inflight.run.id, after.run.id]));
    for (const id of [...before, inflight.run.id, after.run.id])
      expect(rt.getRun(id).status).toBe('completed');
  }, 180_000);
});
