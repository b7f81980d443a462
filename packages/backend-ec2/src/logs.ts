/**
 * Task logs: tailed live over SSH while the instance runs, copied byte-exactly into
 * `<dataDir>/ec2-logs/<run>/<task>.log` when the task ends (the instance is deleted afterwards),
 * and served from that archive from then on. A task whose instance this process has not seen
 * running (no poll yet) is looked up with one DescribeInstances first.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { open as openFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorText } from '@scripthut/aws-common';
import type { LogChunk, LogReadOptions, LogRequest } from '@scripthut/core';
import { completeUtf8 } from '@scripthut/ssh';
import type { Ec2Context } from './context.js';
import { describeInstances } from './fleet.js';
import { TASK_LOG_PATH } from './mapping.js';
import type { SessionPool } from './sessions.js';

/** Bytes copied per SSH read when archiving. */
const ARCHIVE_CHUNK = 8 * 1024 * 1024;
const STDERR_NOTE =
  'On EC2 the container output and errors are merged (docker run 2>&1): see the output tab.';

/** `<dataDir>/ec2-logs/<run>/<task>.log`, with path separators and leading dots neutralised. */
export function archivePath(ctx: Ec2Context, runId: string, taskId: string): string {
  const safe = (v: string) => v.replace(/[/\\]/g, '_').replace(/^\.+/, '_') || '_';
  return join(ctx.archiveRoot, safe(runId), `${safe(taskId)}.log`);
}

/** Copies the whole task log into the local archive (chunked, byte-exact, renamed into place). */
export async function archiveLog(
  ctx: Ec2Context,
  sessions: SessionPool,
  instanceId: string,
  runId: string,
  taskId: string,
): Promise<void> {
  const s = sessions.get(instanceId);
  const path = `${ctx.prefixOf(instanceId)}${TASK_LOG_PATH}`;
  const dest = archivePath(ctx, runId, taskId);
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.partial`;
  const fh = await openFile(tmp, 'w');
  try {
    let offset = 0;
    for (;;) {
      const r = await s.readRange(path, offset, ARCHIVE_CHUNK, 120_000);
      if (r.missing) break;
      await fh.write(r.data);
      offset += r.data.length;
      if (r.data.length < ARCHIVE_CHUNK || offset >= r.size) break;
    }
  } finally {
    await fh.close();
  }
  renameSync(tmp, dest);
}

async function readArchive(path: string, opts: LogReadOptions): Promise<LogChunk> {
  const size = (await stat(path)).size;
  const max = opts.maxBytes ?? 1024 * 1024;
  let start = opts.offset ?? (opts.tailBytes !== undefined ? Math.max(0, size - opts.tailBytes) : 0);
  start = Math.min(start, size);
  const len = Math.min(max, size - start);
  const fh = await openFile(path, 'r');
  try {
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, start);
    const data = completeUtf8(buf);
    return { content: data.toString('utf8'), nextOffset: start + data.length };
  } finally {
    await fh.close();
  }
}

/**
 * The state of one instance from DescribeInstances (also noted for later reads), or null when
 * EC2 does not answer or does not know the instance.
 */
async function instanceState(ctx: Ec2Context, id: string): Promise<string | null> {
  try {
    const [inst] = await describeInstances(ctx, { InstanceIds: [id] });
    const state = inst?.State?.Name;
    if (!state) return null;
    ctx.lastState.set(id, state);
    if (inst.Placement?.AvailabilityZone) ctx.azOf.set(id, inst.Placement.AvailabilityZone);
    return state;
  } catch (err) {
    ctx.log.debug?.(`DescribeInstances ${id} for its log failed: ${errorText(err)}`);
    return null;
  }
}

/** Reads part of a task's log (`Backend.readLog`). */
export async function readEc2Log(
  ctx: Ec2Context,
  sessions: SessionPool,
  request: LogRequest,
  opts: LogReadOptions,
): Promise<LogChunk> {
  if (request.stream === 'stderr') return { content: '', nextOffset: 0, note: STDERR_NOTE };
  const archived = archivePath(ctx, request.runId, request.taskId);
  const id = request.jobId;
  let state = id ? ctx.lastState.get(id) : undefined;
  // A task this process has not seen running yet (no poll since it started, or since a restart).
  if (id && !ctx.decided.has(id) && state !== 'running' && !existsSync(archived))
    state = (await instanceState(ctx, id)) ?? state;
  const live = id && !ctx.decided.has(id) && state === 'running';
  if (!live && existsSync(archived)) return readArchive(archived, opts);
  if (!id || !live) {
    return {
      content: '',
      nextOffset: opts.offset ?? 0,
      missing: true,
      ...(state === 'pending' ? { note: `instance ${id} is starting` } : {}),
    };
  }
  const max = opts.maxBytes ?? 1024 * 1024;
  const path = `${ctx.prefixOf(id)}${TASK_LOG_PATH}`;
  try {
    const s = sessions.get(id);
    let offset = opts.offset ?? 0;
    if (opts.offset === undefined && opts.tailBytes !== undefined) {
      const head = await s.readRange(path, 0, 0);
      offset = Math.max(0, head.size - opts.tailBytes);
    }
    const r = await s.readRange(path, offset, max);
    if (r.missing) return { content: '', nextOffset: offset, missing: true };
    const data = completeUtf8(r.data);
    return { content: data.toString('utf8'), nextOffset: offset + data.length };
  } catch (err) {
    return {
      content: '',
      nextOffset: opts.offset ?? 0,
      note: `live log of ${id} unavailable right now (will retry): ${errorText(err).slice(0, 300)}`,
    };
  }
}
