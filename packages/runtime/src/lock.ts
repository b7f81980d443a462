/**
 * One engine per data directory. Two engines driving the same runs would submit tasks twice, so the
 * runtime takes the data dir's engine lock before starting its engine.
 *
 * The lock is an operating-system lock, not a pid file: the holder keeps an exclusive SQLite
 * transaction open on `<data_dir>/engine.mutex` (a POSIX record lock underneath), which the kernel
 * releases when the process ends, however it ends. So there is no stale lock to break after a
 * crash, no race between two processes breaking it at once, and a recycled pid never looks like a
 * holder. Next to it, `<data_dir>/engine.lock` (JSON, 0600, replaced atomically) says who holds it:
 * pid, role (daemon, serve, in-process CLI), config file and, once it listens, the server URL, so a
 * CLI can find and talk to the running control plane.
 *
 * `engine.mutex` is never deleted: deleting a lock file that another process may be opening is
 * exactly the race this design avoids.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ScriptHutError } from '@scripthut/core';
import Database from 'better-sqlite3';

/** Who holds an engine lock. */
export type EngineRole =
  /** the background daemon (`scripthut daemon start`, or started by a CLI command) */
  | 'daemon'
  /** `scripthut serve` in the foreground (systemd, tmux) */
  | 'serve'
  /** a CLI command running its own engine (`--no-daemon`) */
  | 'cli'
  /** a program embedding the runtime */
  | 'embedded';

/** The contents of `<data_dir>/engine.lock`. */
export interface LockInfo {
  pid: number;
  startedAt: string;
  /** URL of the holder's HTTP server, once it listens (null for engines without a server). */
  serverUrl: string | null;
  role: EngineRole;
  /** Absolute path of the holder's config file; null for the embedded default config. */
  configPath: string | null;
}

/** Name of the kernel-locked file inside the data directory. */
export const ENGINE_MUTEX_FILE = 'engine.mutex';
/** Name of the JSON file that describes the holder. */
export const ENGINE_LOCK_FILE = 'engine.lock';

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
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

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

function readInfo(dataDir: string): LockInfo | null {
  try {
    const raw = JSON.parse(readFileSync(join(dataDir, ENGINE_LOCK_FILE), 'utf8')) as Partial<LockInfo>;
    if (typeof raw.pid !== 'number') return null;
    return {
      pid: raw.pid,
      startedAt: typeof raw.startedAt === 'string' ? raw.startedAt : '',
      serverUrl: typeof raw.serverUrl === 'string' && raw.serverUrl ? raw.serverUrl : null,
      role: (raw.role as EngineRole | undefined) ?? 'embedded',
      configPath: typeof raw.configPath === 'string' ? raw.configPath : null,
    };
  } catch {
    return null;
  }
}

/**
 * True while some process (this one included) holds the engine lock of `dataDir`. Probes with a
 * shared lock, so probes never disturb each other; a holder that is starting waits out a probe.
 */
export function isEngineLockHeld(dataDir: string): boolean {
  let db: Database.Database;
  try {
    db = new Database(join(dataDir, ENGINE_MUTEX_FILE), { readonly: true, fileMustExist: true, timeout: 0 });
  } catch {
    return false; // never created: nobody ever held it
  }
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return false;
  } catch (e) {
    if (isBusy(e)) return true;
    throw e;
  } finally {
    db.close();
  }
}

/**
 * The holder of the data dir's engine lock, or null when nobody holds it. A holder that has just
 * taken the lock and not yet described itself is waited for briefly; if the description is still
 * missing, a placeholder with `pid: 0` is returned (the lock IS held).
 */
export function readEngineLock(dataDir: string): LockInfo | null {
  if (!isEngineLockHeld(dataDir)) return null;
  for (let i = 0; i < 25; i++) {
    const info = readInfo(dataDir);
    if (info && alive(info.pid)) return info;
    sleepSync(20);
    if (!isEngineLockHeld(dataDir)) return null;
  }
  return { pid: 0, startedAt: '', serverUrl: null, role: 'embedded', configPath: null };
}

/** Data dirs whose lock this process holds (a second runtime in the same process is refused too). */
const heldHere = new Set<string>();

export interface EngineLockOptions {
  role?: EngineRole;
  configPath?: string | null;
  /**
   * How long to wait for the lock when another process holds it (ms). Default 1000: enough to ride
   * out a concurrent probe or a holder that is just exiting, short enough to answer at once.
   */
  waitMs?: number;
}

/**
 * The engine lock of one data directory.
 *
 * @example
 * ```ts
 * const lock = new EngineLock('/home/me/.cache/scripthut', { role: 'daemon' });
 * lock.acquire();                       // throws `conflict` naming the holder
 * lock.setServerUrl('http://127.0.0.1:8000');
 * lock.release();
 * ```
 */
export class EngineLock {
  private db: Database.Database | null = null;
  private info: LockInfo | null = null;
  private readonly role: EngineRole;
  private readonly configPath: string | null;
  private readonly waitMs: number;

  private readonly dataDir: string;

  constructor(dataDir: string, options: EngineLockOptions = {}) {
    this.dataDir = resolve(dataDir);
    this.role = options.role ?? 'embedded';
    this.configPath = options.configPath ?? null;
    this.waitMs = options.waitMs ?? 1000;
  }

  /** The JSON description file. */
  get path(): string {
    return join(this.dataDir, ENGINE_LOCK_FILE);
  }

  private get mutexPath(): string {
    return join(this.dataDir, ENGINE_MUTEX_FILE);
  }

  /** Take the lock, or throw `conflict` with `details` = the holder's {@link LockInfo}. */
  acquire(): void {
    if (heldHere.has(this.mutexPath)) {
      const holder = readInfo(this.dataDir);
      throw new ScriptHutError(
        'conflict',
        `this process already runs an engine on ${this.dataDir}${holder?.serverUrl ? `; use --server ${holder.serverUrl}` : ''}`,
        { details: { ...(holder ?? {}), pid: process.pid, serverUrl: holder?.serverUrl ?? null } },
      );
    }
    let db: Database.Database;
    try {
      // created 0600 first: another user who can open it could hold a shared lock and block us
      closeSync(openSync(this.mutexPath, 'a', 0o600));
      db = new Database(this.mutexPath, { timeout: this.waitMs });
    } catch (e) {
      throw new ScriptHutError('store_error', `cannot create ${this.mutexPath}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      db.exec('BEGIN EXCLUSIVE');
    } catch (e) {
      db.close();
      if (!isBusy(e)) {
        throw new ScriptHutError('store_error', `cannot lock ${this.mutexPath}: ${(e as Error).message}`, {
          cause: e,
        });
      }
      const holder = readEngineLock(this.dataDir);
      const who =
        holder && holder.pid > 0
          ? `another ScriptHut process (pid ${holder.pid})`
          : 'another ScriptHut process';
      throw new ScriptHutError(
        'conflict',
        `${who} is driving runs in ${this.dataDir}${holder?.serverUrl ? `; use --server ${holder.serverUrl}` : ''}`,
        { details: { ...(holder ?? {}), pid: holder?.pid ?? 0, serverUrl: holder?.serverUrl ?? null } },
      );
    }
    this.db = db;
    heldHere.add(this.mutexPath);
    this.info = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      serverUrl: null,
      role: this.role,
      configPath: this.configPath,
    };
    try {
      this.writeInfo();
    } catch (e) {
      this.release();
      throw new ScriptHutError('store_error', `cannot write ${this.path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** True while this object holds the lock. */
  get held(): boolean {
    return this.db !== null;
  }

  /** Record the URL this process serves on, so CLIs can find it. */
  setServerUrl(url: string): void {
    if (!this.info) return;
    this.info = { ...this.info, serverUrl: url };
    this.writeInfo();
  }

  /** Remove the description, then let go of the lock (a no-op when not held). */
  release(): void {
    const db = this.db;
    if (!db) return;
    this.db = null;
    this.info = null;
    heldHere.delete(this.mutexPath);
    rmSync(this.path, { force: true });
    try {
      db.exec('ROLLBACK');
    } catch {}
    db.close();
  }

  /** Replace engine.lock atomically (readers never see half a file). */
  private writeInfo(): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(this.info)}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
