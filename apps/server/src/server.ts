/**
 * `startServer`: the app on a socket (http, or https with `settings.tls_cert`/`tls_key`). A token is
 * always required, loopback included; a non-loopback bind needs one of at least
 * `MIN_REMOTE_TOKEN_LENGTH` characters. At start it logs a one-time sign-in URL for the browser.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { ScriptHutError } from '@scripthut/core';
import {
  authTokenPath,
  MIN_REMOTE_TOKEN_LENGTH,
  resolveAuthToken,
  type ScriptHutRuntime,
} from '@scripthut/runtime';
import { attachWebSockets, closeStreams, createApp, mintLoginUrl } from './app.js';
import { runtimeTokenSource, type TokenSource } from './auth.js';
import { isLoopbackHost, isWildcardHost } from './hosts.js';

export interface StartServerOptions {
  host: string;
  port: number;
  /** Overrides the runtime's token (a fixed string, or a function read per request). */
  authToken?: string | TokenSource;
  version?: string;
  /** Receives the start messages (the listening URL and the one-time sign-in URL). */
  log?: (msg: string) => void;
  /** PEM certificate and key (file contents) for https. Default: the files of `settings.tls_cert`/`tls_key`. */
  tls?: { cert: string | Buffer; key: string | Buffer } | null;
  /** Request body limit in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Terminals idle (no input, no output) this long are closed. Default 30 minutes. */
  terminalIdleMs?: number;
  /** Environment for the token lookup (`SCRIPTHUT_TOKEN`). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export interface RunningServer {
  /** Where clients reach the server (a wildcard bind is reached on 127.0.0.1). */
  url: string;
  port: number;
  /** A fresh one-time sign-in URL (valid once, for 10 minutes). */
  loginUrl(path?: string): string;
  /** Ends open SSE streams and stops the server. */
  close(): Promise<void>;
}

function tlsFromSettings(runtime: ScriptHutRuntime): { cert: Buffer; key: Buffer } | null {
  const { tls_cert, tls_key } = runtime.settings;
  if (!tls_cert && !tls_key) return null;
  if (!tls_cert || !tls_key)
    throw new ScriptHutError(
      'config_invalid',
      'settings.tls_cert and settings.tls_key go together: set both',
    );
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new ScriptHutError('config_invalid', `cannot read ${what} ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  };
  return { cert: read(tls_cert, 'settings.tls_cert'), key: read(tls_key, 'settings.tls_key') };
}

/**
 * Starts the HTTP(S) server. Resolves once listening; `close()` ends open SSE streams and stops it.
 *
 * @throws ScriptHutError `config_invalid` for a non-loopback bind with a token shorter than
 *   `MIN_REMOTE_TOKEN_LENGTH`, or unreadable TLS files.
 */
export async function startServer(
  runtime: ScriptHutRuntime,
  options: StartServerOptions,
): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const fixed = options.authToken;
  const base: TokenSource =
    typeof fixed === 'string' ? () => fixed : (fixed ?? runtimeTokenSource(runtime, env));
  const initial = base();
  const remote = !isLoopbackHost(options.host);
  if (remote && (!initial || initial.length < MIN_REMOTE_TOKEN_LENGTH)) {
    throw new ScriptHutError(
      'config_invalid',
      `refusing to bind ${options.host}: a server reachable from the network needs an auth token of at least ${MIN_REMOTE_TOKEN_LENGTH} characters (this one has ${initial?.length ?? 0}); remove settings.auth_token and SCRIPTHUT_TOKEN to use the generated one, or bind 127.0.0.1`,
      { details: { host: options.host } },
    );
  }
  // A reload may rotate the token; on a network bind a too-short one then opens nothing.
  const token: TokenSource = remote
    ? () => {
        const t = base();
        return t && t.length >= MIN_REMOTE_TOKEN_LENGTH ? t : null;
      }
    : base;
  const tls = options.tls === undefined ? tlsFromSettings(runtime) : options.tls;
  const app = createApp(runtime, {
    authToken: token,
    bindHost: options.host,
    env,
    ...(options.version ? { version: options.version } : {}),
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
    ...(options.terminalIdleMs ? { terminalIdleMs: options.terminalIdleMs } : {}),
  });
  const log = options.log ?? (() => {});
  const tokenFrom =
    fixed !== undefined
      ? 'given to the server'
      : (() => {
          const origin = resolveAuthToken(runtime.dataDir, runtime.settings.auth_token, env).origin;
          return origin === 'settings'
            ? 'settings.auth_token'
            : origin === 'environment'
              ? 'SCRIPTHUT_TOKEN'
              : authTokenPath(runtime.dataDir);
        })();
  return await new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch: app.fetch,
        hostname: options.host,
        port: options.port,
        ...(tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {}),
      },
      (info: AddressInfo) => {
        const scheme = tls ? 'https' : 'http';
        const address = isWildcardHost(info.address)
          ? info.family === 'IPv6'
            ? '::1'
            : '127.0.0.1'
          : info.address;
        const host = address.includes(':') ? `[${address}]` : address;
        const url = `${scheme}://${host}:${info.port}`;
        const loginUrl = (path = '/') => mintLoginUrl(app, url, path).url;
        log(`ScriptHut server listening on ${url} (every request needs the token: ${tokenFrom})`);
        log(`Sign in from a browser: ${loginUrl()} (one-time link, valid 10 minutes)`);
        resolve({
          url,
          port: info.port,
          loginUrl,
          close: () =>
            new Promise<void>((done) => {
              closeStreams(app);
              server.close(() => done());
              const s = server as unknown as {
                closeAllConnections?: () => void;
                closeIdleConnections?: () => void;
              };
              s.closeIdleConnections?.();
              setTimeout(() => s.closeAllConnections?.(), 200).unref();
            }),
        });
      },
    );
    attachWebSockets(app, server as unknown as Server);
    server.once('error', (err: Error) => reject(err));
  });
}
