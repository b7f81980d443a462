import { describe, expect, it } from 'vitest';
import { backoffDelay, classifyAwsError, isRetryable, isTransientKind, withRetry } from '../src/index.js';

function awsError(name: string, message: string, httpStatusCode: number): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, requestId: 'fake-request' },
  });
}
const throttled = () => awsError('TooManyRequestsException', 'Too Many Requests', 429);

describe('classifyAwsError', () => {
  it('classifies SDK errors', () => {
    expect(classifyAwsError(throttled())).toBe('throttle');
    expect(classifyAwsError(awsError('ThrottlingException', 'Rate exceeded', 400))).toBe('throttle');
    expect(classifyAwsError(awsError('RequestLimitExceeded', 'x', 503))).toBe('throttle');
    expect(classifyAwsError(awsError('ServerException', 'x', 500))).toBe('server');
    expect(classifyAwsError(awsError('ServiceUnavailable', 'x', 503))).toBe('server');
    expect(classifyAwsError(awsError('ClientException', 'x', 400))).toBe('client');
    expect(classifyAwsError(awsError('AccessDeniedException', 'x', 403))).toBe('client');
    expect(classifyAwsError(Object.assign(new Error('x'), { name: 'CredentialsProviderError' }))).toBe(
      'credentials',
    );
    expect(classifyAwsError(awsError('ExpiredToken', 'x', 400))).toBe('credentials');
    expect(classifyAwsError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(
      'network',
    );
    expect(classifyAwsError(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe('network');
    expect(classifyAwsError('weird')).toBe('network');
    // The SDK's retry middleware puts `$metadata` on every error: no HTTP status = no answer.
    expect(classifyAwsError({ $metadata: {} })).toBe('network');
    expect(classifyAwsError({ $metadata: { httpStatusCode: 200 } })).toBe('network'); // body cut off
    // A bug in the caller is not a lost answer.
    expect(classifyAwsError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(
      'client',
    );
    expect(classifyAwsError(new TypeError('fetch failed'))).toBe('network');
    // EC2 query errors may carry the name in `Code` only.
    expect(classifyAwsError({ Code: 'RequestLimitExceeded', $metadata: { httpStatusCode: 400 } })).toBe(
      'throttle',
    );
  });

  it('reports capacity errors only for the names it is given', () => {
    const err = awsError('InsufficientInstanceCapacity', 'none left', 500);
    expect(classifyAwsError(err)).toBe('server');
    expect(classifyAwsError(err, { capacityNames: new Set(['InsufficientInstanceCapacity']) })).toBe(
      'capacity',
    );
    // Throttling wins over a capacity name.
    expect(classifyAwsError(throttled(), { capacityNames: new Set(['TooManyRequestsException']) })).toBe(
      'throttle',
    );
  });

  it('retryable and transient kinds', () => {
    expect(['throttle', 'server', 'network'].every((k) => isRetryable(k as never))).toBe(true);
    expect(['credentials', 'capacity', 'client'].some((k) => isRetryable(k as never))).toBe(false);
    expect(isTransientKind('capacity')).toBe(true);
    expect(isTransientKind('credentials')).toBe(true);
    expect(isTransientKind('client')).toBe(false);
  });
});

describe('backoff and withRetry', () => {
  it('backoff is exponential, jittered and capped', () => {
    const max = () => 0.999999;
    expect(backoffDelay(0, { baseDelayMs: 100, maxDelayMs: 20_000 }, max)).toBe(99);
    expect(backoffDelay(3, { baseDelayMs: 100, maxDelayMs: 20_000 }, max)).toBe(799);
    expect(backoffDelay(20, { baseDelayMs: 100, maxDelayMs: 20_000 }, max)).toBe(19_999);
    expect(backoffDelay(20, {}, max)).toBe(19_999);
    expect(backoffDelay(5, {}, () => 0)).toBe(0);
  });

  it('gives up on client errors at once and on retryable ones after maxAttempts (default 6)', async () => {
    let n = 0;
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
    };
    await expect(
      withRetry(
        async () => {
          n++;
          throw awsError('ClientException', 'bad', 400);
        },
        { sleep },
      ),
    ).rejects.toThrow('bad');
    expect(n).toBe(1);
    n = 0;
    await expect(
      withRetry(
        async () => {
          n++;
          throw throttled();
        },
        { sleep, policy: { maxAttempts: 4 } },
      ),
    ).rejects.toThrow('Too Many');
    expect(n).toBe(4);
    n = 0;
    await expect(
      withRetry(
        async () => {
          n++;
          throw throttled();
        },
        { sleep },
      ),
    ).rejects.toThrow('Too Many');
    expect(n).toBe(6);
  });

  it('reports each retry and returns the first success', async () => {
    const seen: [string, number, number][] = [];
    let n = 0;
    const out = await withRetry(
      async () => {
        if (++n < 3) throw awsError('ServiceUnavailable', 'x', 503);
        return 'done';
      },
      {
        sleep: async () => undefined,
        random: () => 0.5,
        policy: { baseDelayMs: 100 },
        onRetry: (_err, kind, attempt, delay) => {
          seen.push([kind, attempt, delay]);
        },
      },
    );
    expect(out).toBe('done');
    expect(seen).toEqual([
      ['server', 1, 50],
      ['server', 2, 100],
    ]);
  });
});
