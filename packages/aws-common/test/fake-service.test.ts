/** `FakeAwsService`, the base of the AWS backends' fakes: counts, injected failures, latency rounds. */
import { describe, expect, it } from 'vitest';
import { awsServiceError, FakeAwsService } from '../src/testing/index.js';

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
