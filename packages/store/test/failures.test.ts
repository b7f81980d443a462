/**
 * Storage failures with real SQLite errors. Tests run as root, so permission bits alone do not stop
 * writes: the immutable attribute (`chattr +i`) does, `readonly` connections give SQLITE_READONLY,
 * a low `max_page_count` gives a real SQLITE_FULL and a second connection holding the write lock
 * gives SQLITE_BUSY.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScriptHutError } from '@scripthut/core';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../src/index.js';
import { makeRun, makeTasks } from './fixtures.js';

let dir: string;
const immutable: string[] = [];

function chattr(flag: '+i' | '-i', path: string): void {
  execFileSync('chattr', [flag, path]);
  if (flag === '+i') immutable.push(path);
}

function catchError(fn: () => unknown): ScriptHutError {
  try {
    fn();
  } catch (error) {
    expect(ScriptHutError.is(error)).toBe(true);
    return error as ScriptHutError;
  }
  throw new Error('expected an error');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'scripthut-fail-'));
});
afterEach(() => {
  for (const p of immutable.splice(0).reverse()) execFileSync('chattr', ['-i', p]);
  rmSync(dir, { recursive: true, force: true });
});

function seed(file: string): void {
  const store = openSqliteStore(file);
  store.insertRun(makeRun('keep0001'), makeTasks('keep0001', 5));
  store.close();
}

function expectIntact(file: string): void {
  const store = openSqliteStore(file);
  try {
    expect(store.getRun('keep0001')?.id).toBe('keep0001');
    expect(store.allTasks('keep0001')).toHaveLength(5);
    expect(store.summarizeRun('keep0001')?.counts.pending).toBe(5);
  } finally {
    store.close();
  }
}

describe('read-only', () => {
  it('an immutable database file and directory give a clear store_error naming the file', () => {
    const data = join(dir, 'data');
    const file = join(data, 'scripthut.db');
    seed(file);
    chattr('+i', file);
    chattr('+i', data);
    const err = catchError(() => openSqliteStore(file));
    expect(err.code).toBe('store_error');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/read-only/);
    chattr('-i', data);
    chattr('-i', file);
    immutable.length = 0;
    expectIntact(file);
  });

  it('a write on a read-only connection fails with store_error and stores nothing', () => {
    const file = join(dir, 'scripthut.db');
    seed(file);
    const ro = openSqliteStore(file, { readonly: true });
    try {
      expect(ro.getRun('keep0001')?.id).toBe('keep0001');
      const err = catchError(() => ro.insertRun(makeRun('new00001'), makeTasks('new00001', 3)));
      expect(err.code).toBe('store_error');
      expect(err.message).toContain(`the database file ${file} is read-only`);
      expect(err.details?.code).toMatch(/^SQLITE_READONLY/);
    } finally {
      ro.close();
    }
    expectIntact(file);
    const rw = openSqliteStore(file);
    expect(rw.getRun('new00001')).toBeNull();
    rw.close();
  });

  it('a data directory that cannot be created gives a clear error', () => {
    const parent = join(dir, 'locked');
    mkdirSync(parent);
    chattr('+i', parent);
    const file = join(parent, 'data', 'scripthut.db');
    const err = catchError(() => openSqliteStore(file));
    expect(err.code).toBe('store_error');
    expect(err.message).toContain(`cannot create the data directory ${join(parent, 'data')}`);
    expect(err.message).toContain('not writable');
  });

  it('a data directory that is not writable gives a clear error', () => {
    const data = join(dir, 'ro-data');
    mkdirSync(data);
    chattr('+i', data);
    const err = catchError(() => openSqliteStore(join(data, 'scripthut.db')));
    expect(err.code).toBe('store_error');
    expect(err.message).toContain(`the data directory ${data} is not writable`);
  });
});

describe('disk full', () => {
  it('SQLITE_FULL rolls the transaction back and reports "disk full" naming the file', () => {
    const file = join(dir, 'scripthut.db');
    seed(file);
    const store = openSqliteStore(file);
    try {
      const pages = store.sqlite.pragma('page_count', { simple: true }) as number;
      store.sqlite.pragma(`max_page_count = ${pages + 2}`);
      const err = catchError(() => store.insertRun(makeRun('full0001'), makeTasks('full0001', 2_000)));
      expect(err.code).toBe('store_error');
      expect(err.message).toContain(`disk full while writing the database file ${file}`);
      expect(err.details?.code).toBe('SQLITE_FULL');
      expect(store.getRun('full0001')).toBeNull();
      expect(store.allTasks('full0001')).toEqual([]);
      // still usable for reads, and existing data is untouched
      expect(store.summarizeRun('keep0001')?.total).toBe(5);
    } finally {
      store.close();
    }
    expectIntact(file);
  });
});

describe('locked', () => {
  it('SQLITE_BUSY after the busy timeout is a store_error and loses nothing', () => {
    const file = join(dir, 'scripthut.db');
    seed(file);
    const store = openSqliteStore(file, { busyTimeoutMs: 150 });
    const other = new Database(file);
    try {
      other.prepare('BEGIN IMMEDIATE').run();
      const started = Date.now();
      const err = catchError(() =>
        store.updateTasks([{ runId: 'keep0001', taskId: 't00000', patch: { state: 'running' } }]),
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(100);
      expect(err.code).toBe('store_error');
      expect(err.message).toContain(`the database file ${file} is locked`);
      other.prepare('ROLLBACK').run();
      store.updateTasks([{ runId: 'keep0001', taskId: 't00000', patch: { state: 'running' } }]);
      expect(store.getTask('keep0001', 't00000')?.state).toBe('running');
    } finally {
      other.close();
      store.close();
    }
  });
});

describe('not a database', () => {
  it('a garbage file is reported, not overwritten', () => {
    const file = join(dir, 'scripthut.db');
    execFileSync('bash', ['-c', 'head -c 8192 /dev/urandom > "$1"', '_', file]);
    const err = catchError(() => openSqliteStore(file));
    expect(err.code).toBe('store_error');
    expect(err.message).toContain(file);
  });
});
