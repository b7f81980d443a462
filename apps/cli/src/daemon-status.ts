/** What `daemon status` and `daemon start` report about the data dir's control plane. */
import type { LockInfo } from '@scripthut/runtime';
import { daemonLogPath, probeServer } from './daemon.js';
import { formatDuration, renderFields } from './format.js';
import type { Styles } from './output.js';

export interface DaemonStatus {
  running: boolean;
  /** `daemon`, `serve` or `cli` (a `--no-daemon` command); null when nothing holds the lock. */
  role: LockInfo['role'] | null;
  pid: number | null;
  url: string | null;
  /** The server answered its health route with our token. */
  responding: boolean;
  startedAt: string | null;
  uptimeSeconds: number | null;
  version: string | null;
  dataDir: string;
  config: string | null;
  log: string;
}

/** Status of the data dir's lock holder (probing its server with `token`). */
export async function daemonStatus(dataDir: string, token: string | null): Promise<DaemonStatus> {
  const { readEngineLock } = await import('@scripthut/runtime');
  const holder = readEngineLock(dataDir);
  const base: DaemonStatus = {
    running: false,
    role: null,
    pid: null,
    url: null,
    responding: false,
    startedAt: null,
    uptimeSeconds: null,
    version: null,
    dataDir,
    config: null,
    log: daemonLogPath(dataDir),
  };
  if (!holder) return base;
  let version: string | null = null;
  let responding = false;
  if (holder.serverUrl) {
    responding = (await probeServer(holder.serverUrl, token)) === 'ok';
    if (responding) {
      try {
        const res = await fetch(`${holder.serverUrl}/api/v1/health`, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
          signal: AbortSignal.timeout(2000),
        });
        version = ((await res.json()) as { version?: string }).version ?? null;
      } catch {}
    }
  }
  const started = Date.parse(holder.startedAt);
  return {
    ...base,
    running: holder.role === 'daemon' || holder.role === 'serve',
    role: holder.role,
    pid: holder.pid,
    url: holder.serverUrl,
    responding,
    startedAt: holder.startedAt || null,
    uptimeSeconds: Number.isNaN(started) ? null : Math.max(0, Math.round((Date.now() - started) / 1000)),
    version,
    config: holder.configPath,
  };
}

/** Human status block. */
export function renderDaemonStatus(s: DaemonStatus, style: Styles): string {
  if (!s.pid)
    return `No ScriptHut daemon is running for ${s.dataDir}.\nStart it with \`scripthut daemon start\` (any command that needs it starts it too).`;
  const what =
    s.role === 'daemon'
      ? 'daemon'
      : s.role === 'serve'
        ? '`scripthut serve` (foreground)'
        : s.role === 'cli'
          ? 'no daemon; a `scripthut --no-daemon` command holds the engine'
          : 'another ScriptHut process holds the engine';
  const state = s.url
    ? s.responding
      ? style.green('running')
      : style.red('not answering')
    : style.yellow('no server');
  return renderFields(
    [
      ['ScriptHut', `${what}, pid ${s.pid}`],
      ['Status', { styled: state }],
      ['URL', s.url],
      ['Uptime', s.uptimeSeconds === null ? null : formatDuration(s.uptimeSeconds * 1000)],
      ['Version', s.version],
      ['Data dir', s.dataDir],
      ['Config', s.config ?? 'built-in demo config'],
      ['Log', s.role === 'daemon' ? s.log : null],
    ],
    style,
  );
}
