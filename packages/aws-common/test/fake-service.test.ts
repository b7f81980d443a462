/**
 * `FakeAwsService`, the base of the AWS backends' fakes (counts, injected failures, latency rounds),
 * and `fakeLogEventsPage`, their CloudWatch Logs paging.
 */
import { describe, expect, it } from 'vitest';
import { readCloudWatchStream } from '../src/index.js';
import { awsServiceError, FakeAwsService, fakeLogEventsPage } from '../src/testing/index.js';

type Op = 'Create' | 'Describe';

class FakeThings extends FakeAwsService<Op> {
  readonly things: string[] = [];
  constructor() {
    super({ throttled: () => awsServiceError('ThrottlingException', 'Rate exceeded', 400) });
  }
  async create(name: string): Promise<string> {
    await this.answerRound();
    return this.perform('Create', () => {
      this.things.push(name);
      return name;
    });
  }
  async createSlowly(name: string): Promise<string> {
    await this.answerRound();
    return this.perform('Create', async () => {
      await new Promise((r) => setTimeout(r, 1));
      this.things.push(name);
      return name;
    });
  }
  async describe(): Promise<string[]> {
    await this.answerRound();
    return this.perform('Describe', () => [...this.things]);
  }
}

describe('FakeAwsService', () => {
  it('counts calls per operation, failed ones included, and throws injected failures in order', async () => {
    const fake = new FakeThings();
    fake.failNext('Create');
    fake.failNext('Create', 1, () => awsServiceError('ValidationException', 'bad name', 400));
    await expect(fake.create('a')).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(fake.create('a')).rejects.toMatchObject({ name: 'ValidationException' });
    expect(await fake.create('a')).toBe('a');
    expect(fake.calls).toEqual({ Create: 3 });
    expect(fake.things).toEqual(['a']);
  });

  it('apply-then-500: the call takes effect (also an async one), then its answer is lost as a 5xx', async () => {
    const fake = new FakeThings();
    fake.failNext('Create', 2, 'apply-then-500');
    await expect(fake.create('a')).rejects.toMatchObject({
      name: 'ServerException',
      $metadata: { httpStatusCode: 500 },
    });
    await expect(fake.createSlowly('b')).rejects.toMatchObject({ name: 'ServerException' });
    expect(await fake.describe()).toEqual(['a', 'b']);
  });

  it('with a latency, concurrent calls share a round and sequential calls each open one', async () => {
    const fake = new FakeThings();
    await fake.describe();
    expect(fake.roundTrips).toBe(0); // no latency: no rounds
    fake.latencyMs = 5;
    await Promise.all([fake.create('a'), fake.create('b'), fake.describe()]);
    expect(fake.roundTrips).toBe(1);
    await fake.create('c');
    await fake.describe();
    expect(fake.roundTrips).toBe(3);
    expect(fake.calls).toEqual({ Create: 3, Describe: 3 });
  });
});

describe('fakeLogEventsPage', () => {
  const events = ['a', 'b', 'c', 'd', 'e'].map((message, i) => ({ timestamp: i, message }));

  it('pages forward with tokens, returns the token unchanged at the end, tails backwards', () => {
    const first = fakeLogEventsPage(events, { startFromHead: true }, { pageSize: 2 });
    expect(first.events.map((e) => e.message)).toEqual(['a', 'b']);
    const second = fakeLogEventsPage(events, { nextToken: first.nextForwardToken }, { pageSize: 2 });
    expect(second.events.map((e) => e.message)).toEqual(['c', 'd']);
    const third = fakeLogEventsPage(events, { nextToken: second.nextForwardToken }, { pageSize: 2 });
    const end = fakeLogEventsPage(events, { nextToken: third.nextForwardToken }, { pageSize: 2 });
    expect(end).toMatchObject({ events: [], nextForwardToken: third.nextForwardToken });
    const tail = fakeLogEventsPage(events, { startFromHead: false, limit: 2 }, { pageSize: 10 });
    expect(tail.events.map((e) => e.message)).toEqual(['d', 'e']);
  });

  it('a missing stream is ResourceNotFoundException; empty pages do not end a read', async () => {
    expect(() => fakeLogEventsPage(undefined, { startFromHead: true }, { pageSize: 2 })).toThrow(
      expect.objectContaining({ name: 'ResourceNotFoundException' }),
    );
    const empty = fakeLogEventsPage(events, { startFromHead: true }, { pageSize: 2, emptyPages: true });
    expect(empty.events).toEqual([]);
    const chunk = await readCloudWatchStream(
      async (input) => fakeLogEventsPage(events, input, { pageSize: 2, emptyPages: true }),
      {},
    );
    expect(chunk.content).toBe('a\nb\nc\nd\ne\n');
  });
});
