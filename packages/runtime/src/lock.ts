/**
 * One engine per data directory. Two engines driving the same runs would submit tasks twice, so the
 * runtime takes `<data_dir>/engine.lock` (pid + server URL) before starting its engine. A CLI that
 * finds the lock held by a live ScriptHut server talks to that server instead.
 */
import { closeSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ScriptHutError } from '@scripthut/core';

export interface LockInfo {
  pid: number;
  startedAt: string;
  serverUrl: string | null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return true;
  }
}

/** Read the lock of a data dir, if held by a live process. */
export function readEngineLock(dataDir: string): LockInfo | null {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, 'engine.lock'), 'utf8')) as LockInfo;
    return info.pid !== process.pid && alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/** Data dirs whose lock this process holds (a second runtime in the same process is refused too). */
const heldHere = new Set<string>();

export class EngineLock {
  private held = false;
  constructor(private readonly dataDir: string) {}

  get path(): string {
    return join(this.dataDir, 'engine.lock');
  }

  /** Take the lock or throw `conflict` with `details.serverUrl` of the holder. */
  acquire(): void {
    if (heldHere.has(this.path)) {
      let serverUrl: string | null = null;
      try {
        serverUrl = (JSON.parse(readFileSync(this.path, 'utf8')) as LockInfo).serverUrl;
      } catch {}
      throw new ScriptHutError(
        'conflict',
        `this process already runs an engine on ${this.dataDir}${serverUrl ? `; use --server ${serverUrl}` : ''}`,
        { details: { pid: process.pid, serverUrl } },
      );
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.path, 'wx', 0o600);
        writeSync(
          fd,
          JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), serverUrl: null }),
        );
        closeSync(fd);
        this.held = true;
        heldHere.add(this.path);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new ScriptHutError('store_error', `cannot create ${this.path}: ${(e as Error).message}`, {
            cause: e,
          });
        }
        const holder = readEngineLock(this.dataDir);
        if (holder) {
          throw new ScriptHutError(
            'conflict',
            `another ScriptHut process (pid ${holder.pid}) is driving runs in ${this.dataDir}` +
              (holder.serverUrl ? `; use --server ${holder.serverUrl}` : ''),
            { details: { pid: holder.pid, serverUrl: holder.serverUrl } },
          );
        }
        rmSync(this.path, { force: true });
      }
    }
    throw new ScriptHutError('conflict', `cannot take ${this.path}`);
  }

  /** Record the URL this process serves on, so CLIs can find it. */
  setServerUrl(url: string): void {
    if (!this.held) return;
    writeFileSync(
      this.path,
      JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), serverUrl: url }),
      { mode: 0o600 },
    );
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    heldHere.delete(this.path);
    rmSync(this.path, { force: true });
  }
}
