/**
 * Process liveness on this host. On Linux `/proc/<pid>/stat` tells zombies apart from live processes
 * and gives the start time, which guards against a recycled pid; elsewhere `kill(pid, 0)` is used.
 */
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  state: string;
  /** Start time after boot in clock ticks (field 22). */
  startTime: string;
}

function readStat(pid: number): ProcStat | null | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOENT: no such process. Anything else: /proc unusable here.
    return code === 'ENOENT' || code === 'ESRCH' ? null : undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces or ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19].
  return { state: rest[0] ?? '?', startTime: rest[19] ?? '' };
}

/** Start time token of a process (Linux), used to detect pid reuse. Null when unknown. */
export function processStartTime(pid: number): string | null {
  const stat = readStat(pid);
  return stat ? stat.startTime : null;
}

/**
 * True when `pid` is a live (non-zombie) process, and — when `startTime` is given and `/proc` is
 * available — the same process that was started then.
 */
export function isProcessAlive(pid: number, startTime?: string | null): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const stat = readStat(pid);
  if (stat === null) return false;
  if (stat !== undefined) {
    if (stat.state === 'Z' || stat.state === 'X' || stat.state === 'x') return false;
    if (startTime && stat.startTime && stat.startTime !== startTime) return false;
    return true;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when any process of the group `pgid` is still alive (zombies excluded where detectable). */
export function isGroupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 0) return false;
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // kill(0) succeeds for zombies too: if the leader is the only member and a zombie, it is dead.
  return isProcessAlive(pgid) || hasLiveGroupMember(pgid);
}

function hasLiveGroupMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // field 5 (pgrp) is rest[2]
      if (Number(rest[2]) === pgid && rest[0] !== 'Z') return true;
    } catch {
      // process went away
    }
  }
  return false;
}
