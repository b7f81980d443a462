/**
 * Finding and stopping the daemons a test started, by pid (never by name): a daemon is a process
 * whose command line is `… daemon run …` and whose environment names the test's data dir.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of the `scripthut daemon run` processes of `dataDir` (this user's, from /proc). */
export function daemonPids(dataDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('daemon');
      if (at === -1 || argv[at + 1] !== 'run') continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // exited, not yet reaped
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (env.includes(`SCRIPTHUT_DATA_DIR=${dataDir}`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Wait (bounded) until `pid` has exited; true when it did. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Stop every daemon of `dataDir` left running (SIGTERM, then SIGKILL after 15 s). */
export async function stopDaemons(dataDir: string): Promise<void> {
  for (const pid of daemonPids(dataDir)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
    if (!(await waitForExit(pid, 15_000))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
}
