/**
 * Prompt close and fast DNS failures, against real sockets on localhost: a TCP server that accepts
 * and never speaks SSH (a handshake that hangs, like a blackholed login node), a port that refuses
 * (reconnect backoff), and a name that does not resolve. The connection's own timeouts are set to
 * ten minutes, so only `close()` (or the DNS rule) can end these waits within the test's timeout.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError } from '@scripthut/core';
import ssh2 from 'ssh2';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isUnresolvableHost, SshConnection } from '../src/connection.js';

const TEN_MINUTES = 600_000;
let keyPath: string;
const servers: Server[] = [];
const sockets: Socket[] = [];

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-ssh-close-'));
  keyPath = join(dir, 'id_ed25519');
  writeFileSync(keyPath, ssh2.utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A TCP server that accepts connections and never answers; resolves to its port. */
async function silentServer(onConnection: () => void): Promise<number> {
  const server = createServer((sock) => {
    sockets.push(sock);
    onConnection();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

/** A port on which nothing listens (connections are refused). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function connection(host: string, port: number, backoffMs = TEN_MINUTES): SshConnection {
  return new SshConnection(
    { host, port, user: 'nobody', keyPath },
    {
      connectTimeoutMs: TEN_MINUTES,
      defaultTimeoutMs: TEN_MINUTES,
      backoff: { initialMs: backoffMs, maxMs: backoffMs },
    },
  );
}

describe('SshConnection.close()', () => {
  it('rejects a command waiting on a handshake that never completes, with a transient error', async () => {
    let accepted!: () => void;
    const connected = new Promise<void>((r) => {
      accepted = r;
    });
    const port = await silentServer(() => accepted());
    const ssh = connection('127.0.0.1', port);
    const pending = ssh.exec('true').then(
      () => null,
      (e: unknown) => e,
    );
    await connected; // the TCP connection is up; the SSH banner never comes
    await ssh.close();
    const err = await pending;
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).transient).toBe(true);
    expect((err as Error).message).toBe(
      `SSH connection to nobody@127.0.0.1:${port} was closed (ScriptHut is shutting down)`,
    );
    // the abandoned attempt's socket was destroyed: the server sees its end
    await expect
      .poll(() => sockets.every((s) => s.destroyed || s.readableEnded), { timeout: 10_000 })
      .toBe(true);
  });

  it('rejects commands waiting through the reconnect backoff, and every later command', async () => {
    const port = await closedPort();
    const ssh = connection('127.0.0.1', port);
    const first = ssh.exec('true').catch((e: unknown) => e);
    const second = ssh.exec('true').catch((e: unknown) => e);
    // the first attempt is refused; the loop then sleeps up to ten minutes before the next one
    await expect.poll(() => ssh.health().lastError ?? '', { timeout: 10_000 }).toMatch(/ECONNREFUSED/);
    await ssh.close();
    for (const err of [await first, await second]) {
      expect(err).toBeInstanceOf(BackendError);
      expect((err as Error).message).toMatch(/was closed \(ScriptHut is shutting down\)/);
    }
    const later = await ssh.exec('true').catch((e: unknown) => e);
    expect((later as Error).message).toMatch(/was closed/);
  });
});

describe('unresolvable host names', () => {
  it('fail the waiting command at once, naming the host, and fail fast again during the backoff', async () => {
    const ssh = connection('no-such-host.invalid', 22);
    const err = await ssh.exec('true').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).transient).toBe(true);
    expect((err as Error).message).toMatch(
      /^cannot connect to nobody@no-such-host\.invalid:22: host "no-such-host\.invalid" not found \(DNS: getaddrinfo ENOTFOUND no-such-host\.invalid\)$/,
    );
    expect(isUnresolvableHost(err)).toBe(true);
    // within the (ten-minute) backoff: the cached failure, no new lookup, no waiting
    const again = await ssh.exec('true').catch((e: unknown) => e);
    expect((again as Error).message).toBe((err as Error).message);
    await ssh.close();
  });

  it('classification: ENOTFOUND anywhere in the cause chain; not other network errors', () => {
    const dns = Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' });
    expect(isUnresolvableHost(dns)).toBe(true);
    expect(isUnresolvableHost(new BackendError('wrapped', { transient: true, cause: dns }))).toBe(true);
    expect(
      isUnresolvableHost(new BackendError('x', { transient: true, details: { reason: 'host_not_found' } })),
    ).toBe(true);
    for (const code of ['EAI_AGAIN', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH']) {
      expect(isUnresolvableHost(Object.assign(new Error(code), { code }))).toBe(false);
    }
    expect(isUnresolvableHost(null)).toBe(false);
    expect(isUnresolvableHost('ENOTFOUND')).toBe(false);
  });
});
