/**
 * Network failures as the real SDK reports them: a real BatchClient (its real HTTP handler, retry
 * middleware and error shapes) talks to local sockets that misbehave. The SDK attaches `$metadata`
 * (`attempts`, `totalRetryDelay`) to these errors too, so only the missing HTTP status tells them
 * apart from a rejected request.
 */
import { createServer, type Socket } from 'node:net';
import { BatchClient, DescribeJobsCommand } from '@aws-sdk/client-batch';
import { afterAll, describe, expect, it } from 'vitest';
import { AwsCaller, awsClientConfig, classifyAwsError, isAmbiguous } from '../src/index.js';

const servers: ReturnType<typeof createServer>[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

async function server(onConnection: (socket: Socket) => void): Promise<number> {
  const srv = createServer(onConnection);
  servers.push(srv);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return (srv.address() as { port: number }).port;
}

async function sdkError(endpoint: string, requestTimeoutMs?: number): Promise<unknown> {
  const client = new BatchClient({
    ...awsClientConfig({ region: 'us-east-1', requestTimeoutMs }),
    credentials: { accessKeyId: 'AKIAFAKE', secretAccessKey: 'fake' },
    endpoint,
  });
  try {
    await client.send(new DescribeJobsCommand({ jobs: ['x'] }));
    throw new Error('the call should have failed');
  } catch (err) {
    return err;
  } finally {
    client.destroy();
  }
}

describe('network errors of the real SDK', () => {
  it('a TLS protocol error (EPROTO) is a network error, not a permanent request error', async () => {
    const port = await server((s) => s.on('data', () => s.end('HTTP/1.1 200 OK\r\n\r\n')));
    const err = await sdkError(`https://127.0.0.1:${port}`);
    expect(err).toMatchObject({ code: 'EPROTO', $metadata: { attempts: 1 } });
    expect(classifyAwsError(err)).toBe('network');
  });

  it('a connection reset and a refused connection are network errors', async () => {
    const port = await server((s) => s.resetAndDestroy());
    const reset = await sdkError(`http://127.0.0.1:${port}`);
    expect(reset).toMatchObject({ code: 'ECONNRESET', $metadata: { attempts: 1 } });
    expect(classifyAwsError(reset)).toBe('network');
    const closed = await server(() => undefined);
    servers.at(-1)!.close();
    const refused = await sdkError(`http://127.0.0.1:${closed}`);
    expect(refused).toMatchObject({ code: 'ECONNREFUSED' });
    expect(classifyAwsError(refused)).toBe('network');
  });

  it('an answer that is not HTTP is a network error', async () => {
    const port = await server((s) => s.on('data', () => s.end('garbage\r\n\r\n')));
    const err = await sdkError(`http://127.0.0.1:${port}`);
    expect(err).toHaveProperty('$metadata');
    expect((err as { $metadata: { httpStatusCode?: number } }).$metadata.httpStatusCode).toBeUndefined();
    expect(classifyAwsError(err)).toBe('network');
  });

  it('a server that never answers times out (awsClientConfig makes the SDK throw) as a network error', async () => {
    const port = await server(() => undefined);
    const err = await sdkError(`http://127.0.0.1:${port}`, 200);
    expect(err).toMatchObject({ name: 'TimeoutError', $metadata: { attempts: 1 } });
    expect(classifyAwsError(err)).toBe('network');
    expect(isAmbiguous(classifyAwsError(err))).toBe(true);
  });

  it('the caller retries such errors and keeps them transient', async () => {
    const port = await server((s) => s.on('data', () => s.end('HTTP/1.1 200 OK\r\n\r\n')));
    const aws = new AwsCaller({ endpoint: 'test', policy: { maxAttempts: 3 }, sleep: async () => undefined });
    let calls = 0;
    const err = await aws
      .call('DescribeJobs', async () => {
        calls++;
        throw await sdkError(`https://127.0.0.1:${port}`);
      })
      .catch((e) => e);
    expect(calls).toBe(3);
    expect(aws.toBackendError(err, 'DescribeJobs')).toMatchObject({ transient: true });
    expect(aws.health()).toMatchObject({ connected: false, lastError: expect.stringContaining('EPROTO') });
  });
});
