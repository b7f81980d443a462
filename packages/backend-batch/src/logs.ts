/**
 * Job logs from CloudWatch Logs: the stream of the job's current attempt in the job's log group,
 * paged with forward tokens until the token comes back unchanged (an empty page is not the end),
 * tailed with `startFromHead: false`, and still found after DescribeJobs has forgotten the job.
 */
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { type LogStreamRef, readCloudWatchLog } from '@scripthut/aws-common';
import type { LogChunk, LogReadOptions, LogRequest } from '@scripthut/core';
import type { BatchContext } from './context.js';
import { mapJobDetail } from './mapping.js';
import { describeJobs, logGroupOf, logStreamOf, recordFinished } from './status.js';

const STDERR_NOTE =
  'AWS Batch writes stdout and stderr to a single CloudWatch Logs stream: stderr is merged into the output stream (see the output tab).';

type Target = LogStreamRef | { note: string };

/** Where the log of a job is: the record of a finished job, else DescribeJobs. */
async function logTarget(ctx: BatchContext, request: LogRequest, jobId: string): Promise<Target> {
  const recorded = ctx.finished.get(request.runId, jobId);
  if (recorded?.logStream) return { logGroupName: recorded.logGroup, logStreamName: recorded.logStream };
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
  return { logGroupName: logGroupOf(ctx, job, request.meta), logStreamName: stream };
}

/** Reads part of a job's log (`Backend.readLog`). */
export function readBatchLog(
  ctx: BatchContext,
  request: LogRequest,
  opts: LogReadOptions,
): Promise<LogChunk> {
  return readCloudWatchLog(ctx.aws, request, opts, {
    stderrNote: STDERR_NOTE,
    locate: (jobId) => logTarget(ctx, request, jobId),
    send: (input) => ctx.logs.send(new GetLogEventsCommand(input)),
  });
}
