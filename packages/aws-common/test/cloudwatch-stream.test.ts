/**
 * `cloudWatchStream` and `readCloudWatchLog`: a job's log from one CloudWatch Logs stream through the
 * AwsCaller, as Batch and ECS read logs.
 */
import { BackendError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import {
  AwsCaller,
  cloudWatchStream,
  type GetLogEventsInput,
  readCloudWatchLog,
  readCloudWatchStream,
} from '../src/index.js';
import { awsNetworkError, awsServiceError } from '../src/testing/index.js';

const stream = { logGroupName: '/aws/batch/job', logStreamName: 'default/abc' };

function caller(): AwsCaller {
  return new AwsCaller({
    endpoint: 'AWS Test us-east-1',
    sleep: async () => {},
    policy: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
  });
}

describe('cloudWatchStream', () => {
  it('names the stream in every request and retries a throttled call like every AWS call', async () => {
    const sent: GetLogEventsInput[] = [];
    let throttles = 1;
    const get = cloudWatchStream(caller(), stream, async (input) => {
      sent.push(input);
      if (throttles-- > 0) throw awsServiceError('ThrottlingException', 'Rate exceeded', 400);
      // The end of the stream: the same forward token again, without events.
      return input.nextToken
        ? { events: [], nextForwardToken: 'f/1' }
        : { events: [{ message: 'hello' }], nextForwardToken: 'f/1' };
    });
    const chunk = await readCloudWatchStream(get, {});
    expect(chunk.content).toBe('hello\n');
    expect(sent).toHaveLength(3); // throttled, answered, then the same token again (the end)
    expect(sent[0]).toEqual({ ...stream, startFromHead: true });
    expect(sent[2]).toEqual({ ...stream, startFromHead: true, nextToken: 'f/1' });
  });

  it('a stream that does not exist is null (the log is missing), not an error', async () => {
    const get = cloudWatchStream(caller(), stream, async () => {
      throw awsServiceError('ResourceNotFoundException', 'The specified log stream does not exist.', 400);
    });
    expect(await get({ startFromHead: true })).toBeNull();
    expect(await readCloudWatchStream(get, {})).toMatchObject({ content: '', missing: true });
  });

  it('other failures are BackendErrors naming the group: transient for an outage, permanent for a refusal', async () => {
    const down = cloudWatchStream(caller(), stream, async () => {
      throw awsNetworkError('ECONNREFUSED');
    });
    const outage = await down({ startFromHead: true }).catch((e: unknown) => e);
    expect(outage).toBeInstanceOf(BackendError);
    expect((outage as BackendError).transient).toBe(true);
    expect((outage as Error).message).toContain('GetLogEvents /aws/batch/job');
    const refused = cloudWatchStream(caller(), stream, async () => {
      throw awsServiceError('AccessDeniedException', 'not authorized to perform logs:GetLogEvents', 400);
    });
    const denied = await refused({ startFromHead: true }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(BackendError);
    expect((denied as BackendError).transient).toBe(false);
  });
});

describe('readCloudWatchLog', () => {
  const request = { jobId: 'job-1', runId: 'r', taskId: 't', path: null, meta: {} };
  const sent: GetLogEventsInput[] = [];
  const source = {
    stderrNote: 'stderr is merged into the output stream',
    locate: async (jobId: string) =>
      jobId === 'job-1' ? stream : { note: `job ${jobId} has not started yet` },
    send: async (input: GetLogEventsInput) => {
      sent.push(input);
      return input.nextToken
        ? { events: [], nextForwardToken: 'f/1' }
        : { events: [{ message: 'out' }], nextForwardToken: 'f/1' };
    },
  };

  it('reads the located stream for stdout', async () => {
    sent.length = 0;
    const chunk = await readCloudWatchLog(caller(), { ...request, stream: 'stdout' }, {}, source);
    expect(chunk).toMatchObject({ content: 'out\n', nextOffset: 4 });
    expect(sent[0]).toMatchObject(stream);
  });

  it('stderr is the note, no job is missing, a job without a stream is missing with the reason; no call made', async () => {
    sent.length = 0;
    const aws = caller();
    expect(await readCloudWatchLog(aws, { ...request, stream: 'stderr' }, { offset: 7 }, source)).toEqual({
      content: '',
      nextOffset: 7,
      note: 'stderr is merged into the output stream',
    });
    expect(await readCloudWatchLog(aws, { ...request, jobId: null, stream: 'stdout' }, {}, source)).toEqual({
      content: '',
      nextOffset: 0,
      missing: true,
    });
    expect(
      await readCloudWatchLog(aws, { ...request, jobId: 'job-2', stream: 'stdout' }, {}, source),
    ).toEqual({
      content: '',
      nextOffset: 0,
      missing: true,
      note: 'job job-2 has not started yet',
    });
    expect(sent).toEqual([]);
  });
});
