import { BackendError } from '@scripthut/core';
import { describe, expect, it } from 'vitest';
import { AwsCaller, chunk, errorText, TokenBucket } from '../src/index.js';

function awsError(name: string, message: string, httpStatusCode: number): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, requestId: 'r', attempts: 1 },
  });
}

function caller(over: Partial<ConstructorParameters<typeof AwsCaller>[0]> = {}) {
  const sleeps: number[] = [];
  const retries: string[] = [];
  const aws = new AwsCaller({
    endpoint: 'AWS Test us-east-1',
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    onRetry: (label, _err, kind, attempt) => retries.push(`${label}:${kind}:${attempt}`),
    ...over,
  });
  return { aws, sleeps, retries };
}

describe('AwsCaller.call', () => {
  it('retries throttling with backoff and reports each retry', async () => {
    const { aws, sleeps, retries } = caller({ policy: { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 40 } });
    let n = 0;
    const out = await aws.call('ListThings', async () => {
      if (++n < 3) throw awsError('ThrottlingException', 'Rate exceeded', 400);
      return 'ok';
    });
    expect(out).toBe('ok');
    expect(n).toBe(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps.every((d) => d >= 0 && d < 40)).toBe(true);
    expect(retries).toEqual(['ListThings:throttle:1', 'ListThings:throttle:2']);
    expect(aws.health()).toEqual({ connected: true, lastError: null, endpoint: 'AWS Test us-east-1' });
  });

  it('rethrows a request error at once and leaves health alone', async () => {
    const { aws, sleeps } = caller();
    let n = 0;
    const err = await aws
      .call('CreateThing', async () => {
        n++;
        throw awsError('ClientException', 'bad name', 400);
      })
      .catch((e) => e);
    expect(n).toBe(1);
    expect(sleeps).toEqual([]);
    expect(aws.health().connected).toBe(true);
    const be = aws.toBackendError(err, 'CreateThing');
    expect(be).toBeInstanceOf(BackendError);
    expect(be).toMatchObject({
      transient: false,
      message: 'CreateThing failed: ClientException: bad name',
      output: 'ClientException: bad name',
    });
  });

  it('marks health failed on outages and recovers on the next success', async () => {
    const { aws } = caller({ policy: { maxAttempts: 2 } });
    await expect(
      aws.call('Describe', async () => {
        throw awsError('ServiceUnavailable', 'down', 503);
      }),
    ).rejects.toThrow('down');
    expect(aws.health()).toMatchObject({ connected: false, lastError: 'Describe: ServiceUnavailable: down' });
    await aws.call('Describe', async () => 1);
    expect(aws.health()).toMatchObject({ connected: true, lastError: null });
  });

  it('after an ambiguous failure, recover() is asked before the call is repeated', async () => {
    const { aws } = caller();
    const created: string[] = [];
    let sends = 0;
    const out = await aws.call(
      'Create',
      async () => {
        sends++;
        created.push('thing-1'); // the service did it...
        throw awsError('InternalServerError', 'oops', 500); // ...but the answer says otherwise
      },
      { recover: async () => created[0] },
    );
    expect(out).toBe('thing-1');
    expect(sends).toBe(1);
  });

  it('recover() is not asked for throttling (nothing happened) and its own errors are ignored', async () => {
    const { aws } = caller();
    let asked = 0;
    let n = 0;
    const out = await aws.call(
      'Create',
      async () => {
        n++;
        if (n === 1) throw awsError('TooManyRequestsException', 'slow down', 429);
        if (n === 2) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', $metadata: {} });
        return 'made';
      },
      {
        recover: async () => {
          asked++;
          throw new Error('listing failed too');
        },
      },
    );
    expect(out).toBe('made');
    expect(asked).toBe(1);
  });

  it('awaits before() ahead of every attempt (rate limiting)', async () => {
    const { aws } = caller();
    const order: string[] = [];
    let n = 0;
    await aws.call(
      'Submit',
      async () => {
        order.push('send');
        if (++n === 1) throw awsError('ThrottlingException', 'x', 400);
      },
      { before: async () => void order.push('token') },
    );
    expect(order).toEqual(['token', 'send', 'token', 'send']);
  });

  it('classifies with the service options (capacity is transient, not retried)', async () => {
    const { aws } = caller({ classify: { capacityNames: new Set(['InsufficientInstanceCapacity']) } });
    let n = 0;
    const err = await aws
      .call('RunInstances', async () => {
        n++;
        throw awsError('InsufficientInstanceCapacity', 'none', 500);
      })
      .catch((e) => e);
    expect(n).toBe(1);
    expect(aws.classify(err)).toBe('capacity');
    expect(aws.toBackendError(err, 'RunInstances').transient).toBe(true);
  });

  it('hints at credentials', () => {
    const { aws } = caller();
    const e = aws.toBackendError(
      Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' }),
      'DescribeJobs',
    );
    expect(e.transient).toBe(true);
    expect(e.message).toContain('check the AWS credentials / profile');
    const same = new BackendError('x', { transient: false });
    expect(aws.toBackendError(same, 'y')).toBe(same);
  });
});

describe('errorText and chunk', () => {
  it('names the error without "Error: " noise', () => {
    expect(errorText(awsError('ClientException', 'bad', 400))).toBe('ClientException: bad');
    expect(errorText(new Error('plain'))).toBe('plain');
    expect(errorText({ Code: 'InvalidInstanceID.NotFound', message: 'gone' })).toBe(
      'InvalidInstanceID.NotFound: gone',
    );
    expect(errorText('text')).toBe('text');
  });

  it('chunks in order, the last group shorter', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 100)).toEqual([]);
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });
});

describe('TokenBucket', () => {
  it('allows a burst then paces at the rate', async () => {
    let t = 0;
    const waits: number[] = [];
    const bucket = new TokenBucket(10, {
      burst: 2,
      now: () => t,
      sleep: async (ms) => {
        waits.push(ms);
        t += ms;
      },
    });
    for (let i = 0; i < 5; i++) await bucket.take();
    expect(waits).toEqual([100, 100, 100]);
    expect(t).toBe(300);
  });
});
