/**
 * Reading one CloudWatch Logs stream as a ScriptHut log: from a byte offset (follow) or a
 * continuation token, the tail, or everything. Paged with forward tokens until the token comes back
 * unchanged (CloudWatch answers empty pages for stretches without events before the end of a
 * stream); each event is one line. The SDK call is the caller's (no dependency on the client here):
 * {@link cloudWatchStream} makes the calls of one stream go through the backend's {@link AwsCaller}.
 */
import type { LogChunk, LogReadOptions, LogRequest } from '@scripthut/core';
import type { AwsCaller } from './caller.js';

/** One GetLogEvents page, as the SDK answers it. */
export interface LogEventsPage {
  events?: { message?: string }[];
  nextForwardToken?: string;
}

/**
 * One GetLogEvents call on the stream (the caller adds the group and stream names); resolves to
 * null when the stream does not exist (ResourceNotFoundException).
 */
export type GetLogEvents = (input: {
  startFromHead: boolean;
  nextToken?: string;
  limit?: number;
}) => Promise<LogEventsPage | null>;

/** A CloudWatch Logs stream: its group and name. */
export interface LogStreamRef {
  logGroupName: string;
  logStreamName: string;
}

/** One GetLogEvents request, as `GetLogEventsCommand` takes it. */
export type GetLogEventsInput = LogStreamRef & Parameters<GetLogEvents>[0];

/**
 * The {@link GetLogEvents} of one stream through the backend's caller: each call is retried like
 * every AWS call (`GetLogEvents`); a stream that does not exist (ResourceNotFoundException) is null;
 * any other failure is the caller's {@link AwsCaller.toBackendError} naming the log group.
 *
 * @example
 * ```ts
 * const get = cloudWatchStream(aws, { logGroupName, logStreamName }, (input) =>
 *   logs.send(new GetLogEventsCommand(input)));
 * return readCloudWatchStream(get, options);
 * ```
 */
export function cloudWatchStream(
  aws: AwsCaller,
  stream: LogStreamRef,
  send: (input: GetLogEventsInput) => Promise<LogEventsPage>,
): GetLogEvents {
  return async (input) => {
    try {
      return await aws.call('GetLogEvents', () => send({ ...stream, ...input }));
    } catch (err) {
      if ((err as { name?: string }).name === 'ResourceNotFoundException') return null;
      throw aws.toBackendError(err, `GetLogEvents ${stream.logGroupName}`);
    }
  };
}

/** Where a job's log is in CloudWatch Logs, for {@link readCloudWatchLog}. */
export interface CloudWatchLogSource {
  /**
   * Shown for the stderr tab: the container's stdout and stderr share one stream (the awslogs
   * driver), so the output tab shows both.
   */
  stderrNote: string;
  /** The job's stream, or a note saying why it has none (not started, expired, no awslogs). */
  locate(jobId: string): Promise<LogStreamRef | { note: string }>;
  /** One GetLogEvents, e.g. `(input) => logs.send(new GetLogEventsCommand(input))`. */
  send(input: GetLogEventsInput): Promise<LogEventsPage>;
}

/**
 * `Backend.readLog` of a backend whose containers log to one CloudWatch Logs stream per job
 * (Batch, ECS): stderr answers with the note, a request without a job id (nothing submitted) or
 * a job without a stream is `missing`, else the stream is read through {@link cloudWatchStream}.
 *
 * @example
 * ```ts
 * readLog: (request, options) => readCloudWatchLog(aws, request, options, {
 *   stderrNote: 'stderr is merged into the output stream',
 *   locate: async (taskArn) => ({ logGroupName, logStreamName: `${prefix}/${container}/${taskIdOf(taskArn)}` }),
 *   send: (input) => logs.send(new GetLogEventsCommand(input)),
 * }),
 * ```
 */
export async function readCloudWatchLog(
  aws: AwsCaller,
  request: LogRequest,
  opts: LogReadOptions,
  source: CloudWatchLogSource,
): Promise<LogChunk> {
  const start = opts.offset ?? 0;
  if (request.stream === 'stderr') return { content: '', nextOffset: start, note: source.stderrNote };
  if (!request.jobId) return { content: '', nextOffset: start, missing: true };
  const stream = await source.locate(request.jobId);
  if ('note' in stream) return { content: '', nextOffset: start, missing: true, note: stream.note };
  return readCloudWatchStream(cloudWatchStream(aws, stream, source.send), opts);
}

/** Pages read per call at most (each page is up to 1 MB / 10 000 events). */
const MAX_PAGES = 100;

/**
 * Reads part of a stream (`Backend.readLog` once the stream is known).
 *
 * @example
 * ```ts
 * const get: GetLogEvents = (input) => aws.call('GetLogEvents', () =>
 *   logs.send(new GetLogEventsCommand({ logGroupName, logStreamName, ...input })));
 * return readCloudWatchStream(get, options);
 * ```
 */
export async function readCloudWatchStream(get: GetLogEvents, opts: LogReadOptions): Promise<LogChunk> {
  const start = opts.offset ?? 0;
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  if (opts.tailBytes !== undefined && opts.offset === undefined && !opts.nextToken) {
    const res = await get({ startFromHead: false, limit: Math.max(1, Math.min(10_000, opts.tailBytes)) });
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
    const res = await get({ startFromHead: true, ...(token ? { nextToken: token } : {}) });
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
    // Only a forward token that comes back unchanged marks the end.
    const next = res.nextForwardToken;
    const done = !next || next === token;
    token = next ?? token;
    if (done) break;
  }
  return { content, nextOffset: start + bytes, nextToken: token ?? null };
}
