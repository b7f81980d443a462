/**
 * Job logs from CloudWatch Logs: the stream of the job's current attempt in the job's log group,
 * paged with forward tokens until the token comes back unchanged (an empty page is not the end),
 * tailed with `startFromHead: false`, and still found after DescribeJobs has forgotten the job.
 */
import { GetLogEventsCommand, type GetLogEventsCommandInput } from '@aws-sdk/client-cloudwatch-logs';
import type { LogChunk, LogReadOptions, LogRequest } from '@scripthut/core';
import type { BatchContext } from './context.js';
import { mapJobDetail } from './mapping.js';
import { describeJobs, logGroupOf, logStreamOf, recordFinished } from './status.js';

const STDERR_NOTE =
  'AWS Batch writes stdout and stderr to a single CloudWatch Logs stream: stderr is merged into the output stream (see the output tab).';
/** Pages read per call at most (each page is up to 1 MB / 10 000 events). */
const MAX_PAGES = 100;

type Target = { group: string; stream: string } | { note: string };

/** Where the log of a job is: the record of a finished job, else DescribeJobs. */
async function logTarget(ctx: BatchContext, request: LogRequest, jobId: string): Promise<Target> {
  const recorded = ctx.finished.get(request.runId, jobId);
  if (recorded?.logStream) return { group: recorded.logGroup, stream: recorded.logStream };
  const [job] = await describeJobs(ctx, [jobId]);
  if (!job) {
    return {
      note: recorded
        ? `job ${jobId} finished without writing a log stream (it never started a container)`
        : `AWS Batch no longer describes job ${jobId} (expired from DescribeJobs: finished jobs are kept about a day) ` +
          'and ScriptHut did not record its log stream; look for it in CloudWatch Logs',
    };
  }
  recordFinished(ctx, request.runId, job, mapJobDetail(job), request.meta);
  const stream = logStreamOf(job);
  if (!stream) {
    const st = mapJobDetail(job);
    return {
      note: st.final
        ? `job ${jobId} ended (${st.reason ?? job.status}) before its container wrote a log stream`
        : 'the job has not started yet',
    };
  }
  return { group: logGroupOf(ctx, job, request.meta), stream };
}

async function getEvents(ctx: BatchContext, input: GetLogEventsCommandInput) {
  try {
    return await ctx.aws.call('GetLogEvents', () => ctx.logs.send(new GetLogEventsCommand(input)));
  } catch (err) {
    if ((err as { name?: string }).name === 'ResourceNotFoundException') return null;
    throw ctx.aws.toBackendError(err, `GetLogEvents ${input.logGroupName}`);
  }
}

/** Reads part of a job's log (`Backend.readLog`). */
export async function readBatchLog(
  ctx: BatchContext,
  request: LogRequest,
  opts: LogReadOptions,
): Promise<LogChunk> {
  const start = opts.offset ?? 0;
  if (request.stream === 'stderr') return { content: '', nextOffset: start, note: STDERR_NOTE };
  if (!request.jobId) return { content: '', nextOffset: start, missing: true };
  const target = await logTarget(ctx, request, request.jobId);
  if ('note' in target) return { content: '', nextOffset: start, missing: true, note: target.note };
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  const base = { logGroupName: target.group, logStreamName: target.stream };

  if (opts.tailBytes !== undefined && opts.offset === undefined && !opts.nextToken) {
    const res = await getEvents(ctx, {
      ...base,
      startFromHead: false,
      limit: Math.max(1, Math.min(10_000, opts.tailBytes)),
    });
    if (!res) return { content: '', nextOffset: 0, missing: true };
    let content = (res.events ?? []).map((e) => `${e.message ?? ''}\n`).join('');
    const buf = Buffer.from(content, 'utf8');
    if (buf.length > opts.tailBytes) content = buf.subarray(buf.length - opts.tailBytes).toString('utf8');
    return { content, nextOffset: Buffer.byteLength(content), nextToken: res.nextForwardToken ?? null };
  }

  // From the head (skipping `offset` bytes) or from a continuation token, paging forward.
  let token = opts.nextToken ?? undefined;
  let skip = token ? 0 : start;
  let content = '';
  let bytes = 0;
  for (let page = 0; page < MAX_PAGES && bytes < maxBytes; page++) {
    const res = await getEvents(ctx, {
      ...base,
      startFromHead: true,
      ...(token ? { nextToken: token } : {}),
    });
    if (!res) return { content, nextOffset: start + bytes, missing: page === 0, nextToken: token ?? null };
    for (const e of res.events ?? []) {
      let text = `${e.message ?? ''}\n`;
      if (skip > 0) {
        const b = Buffer.from(text, 'utf8');
        if (b.length <= skip) {
          skip -= b.length;
          continue;
        }
        text = b.subarray(skip).toString('utf8');
        skip = 0;
      }
      content += text;
      bytes += Buffer.byteLength(text);
    }
    // Only a forward token that comes back unchanged marks the end: CloudWatch answers empty pages
    // for stretches of time without events before the end of a stream.
    const next = res.nextForwardToken;
    const done = !next || next === token;
    token = next ?? token;
    if (done) break;
  }
  return { content, nextOffset: start + bytes, nextToken: token ?? null };
}
