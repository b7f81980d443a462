/**
 * Task logs from CloudWatch Logs (awslogs driver): the stream `<prefix>/<container>/<task id>` in
 * the task definition's log group, known from the task's `meta` (set at submission), also after
 * ECS has forgotten the task. ECS sends stdout and stderr to the same stream.
 */
import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { readCloudWatchLog } from '@scripthut/aws-common';
import type { LogChunk, LogReadOptions, LogRequest } from '@scripthut/core';
import type { EcsContext } from './context.js';

const STDERR_NOTE =
  'ECS sends stdout and stderr to a single CloudWatch Logs stream: stderr is merged into the output stream (see the output tab).';

/** Reads part of a task's log (`Backend.readLog`). */
export function readEcsLog(ctx: EcsContext, request: LogRequest, opts: LogReadOptions): Promise<LogChunk> {
  return readCloudWatchLog(ctx.aws, request, opts, {
    stderrNote: STDERR_NOTE,
    async locate(taskArn) {
      const recorded = ctx.finished.get(request.runId, taskArn);
      const group = recorded?.logGroup ?? request.meta.logGroup;
      const stream = recorded?.logStream ?? request.meta.logStream;
      if (typeof group !== 'string' || typeof stream !== 'string')
        return {
          note: 'the task definition of this task does not send its logs to CloudWatch Logs (awslogs driver with a stream prefix)',
        };
      return { logGroupName: group, logStreamName: stream };
    },
    send: (input) => ctx.logs.send(new GetLogEventsCommand(input)),
  });
}
