/** CloudWatch Logs' GetLogEvents paging, for the fakes of services that log there (Batch, ECS). */
import { awsServiceError } from './errors.js';

/** One log event as the fakes store it. */
export interface FakeLogEvent {
  timestamp: number;
  message: string;
}

/** The GetLogEvents fields the paging reads. */
export interface FakeLogEventsInput {
  startFromHead?: boolean;
  nextToken?: string;
  limit?: number;
}

/**
 * One GetLogEvents page of a stream's `events` (undefined: the stream does not exist, a
 * ResourceNotFoundException). Like the real service: pages of at most `pageSize` events (and the
 * request's `limit`), forward tokens `f/<index>` and backward tokens `b/<index>`, and at the end of
 * the stream the forward token passed in comes back unchanged. With `emptyPages`, every page read
 * forward is preceded by an empty one with a new token (CloudWatch scans time windows: a window
 * without events is an empty page, not the end).
 */
export function fakeLogEventsPage(
  events: readonly FakeLogEvent[] | undefined,
  input: FakeLogEventsInput,
  options: { pageSize: number; emptyPages?: boolean },
) {
  if (!events)
    throw awsServiceError('ResourceNotFoundException', 'The specified log stream does not exist.', 400);
  const limit = Math.min(input.limit ?? 10_000, options.pageSize);
  let from: number;
  let to: number;
  const token = input.nextToken;
  const gap = token?.endsWith('~');
  const body = gap ? token!.slice(0, -1) : token;
  if (body?.startsWith('f/')) {
    from = Number(body.slice(2));
    to = Math.min(events.length, from + limit);
  } else if (body?.startsWith('b/')) {
    to = Number(body.slice(2));
    from = Math.max(0, to - limit);
  } else if (input.startFromHead) {
    from = 0;
    to = Math.min(events.length, limit);
  } else {
    to = events.length;
    from = Math.max(0, to - limit);
  }
  if (options.emptyPages && input.startFromHead !== false && !gap && from < events.length)
    return { events: [], nextForwardToken: `f/${from}~`, nextBackwardToken: `b/${from}` };
  return {
    events: events
      .slice(from, to)
      .map((e, i) => ({ ...e, ingestionTime: e.timestamp, eventId: String(from + i) })),
    nextForwardToken: to === from && token ? token : `f/${to}`,
    nextBackwardToken: `b/${from}`,
  };
}
