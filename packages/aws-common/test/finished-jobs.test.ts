import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FinishedJobStore } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'finished-jobs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Rec {
  state: string;
  logStream: string | null;
}

describe('FinishedJobStore', () => {
  it('keeps records across instances (restarts) in one JSON-lines file per run, mode 0600', () => {
    const dir = join(root, 'a');
    const first = new FinishedJobStore<Rec>({ dir });
    first.put('run1', 'job-a', { state: 'completed', logStream: 'def/default/1' });
    first.put('run1', 'job-b', { state: 'failed', logStream: null });
    first.put('run2', 'job-c', { state: 'completed', logStream: 's' });
    expect(first.get('run1', 'job-a')).toEqual({ state: 'completed', logStream: 'def/default/1' });
    const second = new FinishedJobStore<Rec>({ dir });
    expect(second.get('run1', 'job-b')).toEqual({ state: 'failed', logStream: null });
    expect(second.get('run2', 'job-c')?.logStream).toBe('s');
    expect(second.get('run1', 'job-x')).toBeUndefined();
    expect(readFileSync(join(dir, 'run1.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    expect(statSync(join(dir, 'run1.jsonl')).mode & 0o777).toBe(0o600);
  });

  it('the last record of a job wins; a line cut short by a crash is ignored', () => {
    const dir = join(root, 'b');
    const store = new FinishedJobStore<Rec>({ dir });
    store.put('r', 'j', { state: 'failed', logStream: null });
    store.put('r', 'j', { state: 'completed', logStream: 'x' });
    appendFileSync(join(dir, 'r.jsonl'), '{"jobId":"k","record":{"sta');
    const again = new FinishedJobStore<Rec>({ dir });
    expect(again.get('r', 'j')).toEqual({ state: 'completed', logStream: 'x' });
    expect(again.get('r', 'k')).toBeUndefined();
  });

  it('run ids cannot escape the directory', () => {
    const dir = join(root, 'c');
    const store = new FinishedJobStore<Rec>({ dir });
    store.put('../../evil', 'j', { state: 'completed', logStream: null });
    expect(readdirSync(dir)).toEqual(['__.._evil.jsonl']);
    expect(readdirSync(root)).not.toContain('evil.jsonl');
  });

  it('drops least recently used runs from memory and reads them again from disk', () => {
    const dir = join(root, 'd');
    const store = new FinishedJobStore<Rec>({ dir, maxCachedRuns: 1 });
    store.put('r1', 'j1', { state: 'completed', logStream: null });
    store.put('r2', 'j2', { state: 'completed', logStream: null });
    expect(store.get('r1', 'j1')).toEqual({ state: 'completed', logStream: null });
  });

  it('without a directory keeps everything in memory; a write error is reported, not thrown', () => {
    const mem = new FinishedJobStore<Rec>({ dir: null, maxCachedRuns: 1 });
    mem.put('r1', 'j1', { state: 'completed', logStream: null });
    mem.put('r2', 'j2', { state: 'completed', logStream: null });
    expect(mem.get('r1', 'j1')).toBeDefined();
    const errors: string[] = [];
    const blocked = join(root, 'file-not-dir');
    appendFileSync(blocked, 'x');
    const bad = new FinishedJobStore<Rec>({ dir: blocked, onError: (m) => errors.push(m) });
    bad.put('r', 'j', { state: 'completed', logStream: null });
    expect(bad.get('r', 'j')).toEqual({ state: 'completed', logStream: null });
    expect(errors[0]).toMatch(/cannot record the result of job j/);
  });
});
