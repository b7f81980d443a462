/**
 * Keeping one ssh2 client connected for an {@link SshConnection}: connecting on demand, reconnecting
 * with exponential backoff and full jitter after a loss, letting callers wait for the connection
 * (each bounded by its own deadline), and closing for good. What a login attempt presents and
 * accepts is in `login.ts`; running commands on the client is in `connection.ts`.
 */
import type { Duplex } from 'node:stream';
import { BackendError } from '@scripthut/core';
import type { Client } from 'ssh2';
import ssh2 from 'ssh2';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { installCertAuth } from './cert-auth.js';
import {
  classifyLoginError,
  errorMessage,
  isUnresolvableHost,
  type LoginSettings,
  prepareLogin,
  type SshTarget,
} from './login.js';

/** The settings of a {@link ClientKeeper}. */
export interface ClientKeeperSettings extends LoginSettings {
  /** Reconnect backoff (full jitter). */
  backoff: BackoffOptions;
  /** Custom socket factory (EC2 uses an SSM tunnel); default TCP to host:port. */
  connectSocket?: () => Promise<Duplex>;
}

/** Resolves after `ms` (at once when negative); `unref` lets the process exit meanwhile. */
export function sleep(ms: number, unref = false): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, Math.max(0, ms));
    if (unref) t.unref();
  });
}

/** The one ssh2 client of a connection, (re)connected on demand (see the module comment). */
export class ClientKeeper {
  private readonly endpoint: string;
  private client: Client | null = null;
  private loop: Promise<Client> | null = null;
  private waiters = 0;
  private failures = 0;
  private nextAttemptAt = 0;
  private lastErrorText: string | null = null;
  private isClosed = false;
  /** Settles (rejects) when {@link close} is called: every wait races against it. */
  readonly closedSignal: Promise<never>;
  private rejectClosed!: (e: BackendError) => void;
  /** The client of a connection attempt in progress (destroyed by {@link close}). */
  private connecting: Client | null = null;
  /** The last attempt failed because the host name does not resolve (see {@link isUnresolvableHost}). */
  private unresolvable: BackendError | null = null;
  private warnedNoKnownHosts = false;

  constructor(
    private readonly target: SshTarget,
    private readonly settings: ClientKeeperSettings,
  ) {
    this.endpoint = settings.endpoint;
    this.closedSignal = new Promise<never>((_, reject) => {
      this.rejectClosed = reject;
    });
    this.closedSignal.catch(() => {}); // only ever observed through races
  }

  /** The ready client, or `null` while disconnected. */
  get current(): Client | null {
    return this.client;
  }

  /** Why the connection is down (or the last attempt failed); `null` once connected. */
  get lastError(): string | null {
    return this.lastErrorText;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * The error of a command cut short by {@link close}. Transient on purpose: the connection was
   * closed by us (shutdown), which says nothing about the command, so a submission interrupted this
   * way is reconciled by its tag on the next start instead of failing its task.
   */
  closedError(command?: string, started?: false): BackendError {
    return new BackendError(`SSH connection to ${this.endpoint} was closed (ScriptHut is shutting down)`, {
      transient: true,
      ...(command !== undefined ? { command } : {}),
      ...(started === false ? { details: { started: false } } : {}),
    });
  }

  /** Forgets `client` (it failed under a command) so that the next wait reconnects. */
  dropClient(client: Client, reason: string): void {
    if (this.client === client) {
      this.client = null;
      this.lastErrorText = reason;
    }
    client.end();
  }

  /** Resolves to a ready client, waiting for a (re)connect at most until `deadline`. */
  async waitForClient(deadline: number, shown?: string): Promise<Client> {
    if (this.isClosed) throw this.closedError(shown);
    if (this.client) return this.client;
    // A host name that did not resolve a moment ago fails at once until the next attempt is due,
    // instead of holding every command for its whole timeout.
    if (this.unresolvable && !this.loop && Date.now() < this.nextAttemptAt) {
      throw new BackendError(this.unresolvable.message, {
        transient: true,
        ...(shown !== undefined ? { command: shown } : {}),
        cause: this.unresolvable,
      });
    }
    if (!this.loop) {
      const loop = this.connectLoop().finally(() => {
        if (this.loop === loop) this.loop = null;
      });
      loop.catch(() => {}); // waiters handle the rejection; nobody may be left waiting
      this.loop = loop;
    }
    const loop = this.loop;
    this.waiters++;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        loop,
        this.closedSignal,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new BackendError(
                  `not connected to ${this.endpoint} (gave up waiting for the connection: ${this.lastErrorText ?? 'connecting'})`,
                  { transient: true, command: shown },
                ),
              ),
            Math.max(0, deadline - Date.now()),
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.waiters--;
    }
  }

  /**
   * Closes for good: waits are rejected now, an attempt in progress is abandoned, the backoff is
   * cut short, and the client is ended (waiting at most 2 s for it to close).
   */
  async close(): Promise<void> {
    if (!this.isClosed) {
      this.isClosed = true;
      this.rejectClosed(this.closedError());
    }
    const connecting = this.connecting;
    this.connecting = null;
    connecting?.destroy();
    const client = this.client;
    this.client = null;
    if (!client) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      t.unref();
      client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      client.end();
    });
  }

  private async connectLoop(): Promise<Client> {
    for (;;) {
      const wait = this.nextAttemptAt - Date.now();
      if (wait > 0) await Promise.race([sleep(wait, true), this.closedSignal]);
      if (this.isClosed) throw this.closedError();
      try {
        const client = await this.attempt();
        this.failures = 0;
        this.nextAttemptAt = 0;
        this.unresolvable = null;
        return client;
      } catch (err) {
        if (this.isClosed) throw this.closedError();
        const be =
          err instanceof BackendError
            ? err
            : new BackendError(`cannot connect to ${this.endpoint}: ${errorMessage(err)}`, {
                transient: true,
                cause: err,
              });
        this.lastErrorText = be.message;
        if (!be.transient) throw be;
        this.nextAttemptAt = Date.now() + backoffDelay(this.failures, this.settings.backoff);
        this.failures++;
        // Retrying cannot help a name that does not resolve within a user's command: fail the
        // waiters now (the next command after the backoff tries again).
        this.unresolvable = isUnresolvableHost(be) ? be : null;
        if (this.waiters === 0 || this.unresolvable) throw be;
      }
    }
  }

  private async attempt(): Promise<Client> {
    const login = await prepareLogin(this.target, this.settings);
    if (login.unverifiedHostKey && !this.warnedNoKnownHosts) {
      this.warnedNoKnownHosts = true;
      this.settings.onWarning?.(
        `no known_hosts configured for ${this.endpoint}: the server's host key is NOT verified`,
      );
    }
    const { config, cert } = login;
    if (this.settings.connectSocket) {
      try {
        config.sock = await this.settings.connectSocket();
      } catch (err) {
        throw new BackendError(`cannot open a socket to ${this.endpoint}: ${errorMessage(err)}`, {
          transient: true,
          cause: err,
        });
      }
    }

    if (this.isClosed) {
      (config.sock as Duplex | undefined)?.destroy();
      throw this.closedError();
    }
    const client = new ssh2.Client();
    this.connecting = client;
    return await new Promise<Client>((resolve, reject) => {
      let settled = false;
      let gone = false;
      const done = () => {
        settled = true;
        if (this.connecting === client) this.connecting = null;
      };
      const ready = () => {
        if (gone) {
          reject(
            new BackendError(`connection to ${this.endpoint} closed right after login`, { transient: true }),
          );
          return;
        }
        if (this.isClosed) {
          client.end();
          reject(this.closedError());
          return;
        }
        this.client = client;
        this.lastErrorText = null;
        resolve(client);
      };
      client.on('ready', () => {
        if (settled) return;
        done();
        // The key is pinned only now: its signature was verified and the login succeeded.
        const pinning = login.pinFirstSeenKey();
        if (pinning)
          pinning.then(ready, (err: BackendError) => {
            client.end();
            reject(err);
          });
        else ready();
      });
      client.on('error', (err: Error & { level?: string }) => {
        if (settled) {
          // after 'ready': a connection-level error; 'close' follows and marks us disconnected
          this.lastErrorText = `connection to ${this.endpoint} failed: ${err.message}`;
          return;
        }
        done();
        client.end();
        reject(
          this.isClosed
            ? this.closedError()
            : classifyLoginError(this.target, this.endpoint, err, login.hostKeyError(), cert !== null),
        );
      });
      client.on('close', () => {
        gone = true;
        if (this.client === client) {
          this.client = null;
          this.lastErrorText ??= `connection to ${this.endpoint} closed`;
        }
        if (!settled) {
          done();
          reject(
            this.isClosed
              ? this.closedError()
              : new BackendError(`connection to ${this.endpoint} closed during the handshake`, {
                  transient: true,
                }),
          );
        }
      });
      try {
        client.connect(config);
        if (cert) installCertAuth(client, cert);
      } catch (err) {
        done();
        client.end();
        reject(
          new BackendError(`cannot connect to ${this.endpoint}: ${errorMessage(err)}`, { transient: false }),
        );
      }
    });
  }
}
