import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command } from '../command.js';
import { CliError, ExitCode } from '../errors.js';
import { guardedFetch } from '../session.js';

/** The server route that mints a one-time login URL (authenticated with the API token). */
export const LOGIN_LINK_ROUTE = '/api/v1/auth/login-link';

/**
 * Ask the server for a one-time login URL. Null when the server has no such route (an older server
 * answers 404, or an HTML page): the caller then prints the plain URL.
 */
export async function fetchLoginLink(url: string, token: string | null): Promise<string | null> {
  const res = await guardedFetch(url)(`${url}${LOGIN_LINK_ROUTE}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: '{}',
  });
  const isJson = (res.headers.get('content-type') ?? '').includes('application/json');
  if (res.status === 401) {
    await res.body?.cancel();
    throw new CliError('the server refused the token for a login link (HTTP 401)', {
      hint: 'give its token with --token-file FILE or SCRIPTHUT_TOKEN',
    });
  }
  if (res.status === 404 || !isJson) {
    await res.body?.cancel();
    return null;
  }
  const body = (await res.json()) as { url?: unknown; message?: unknown };
  if (!res.ok) {
    throw new CliError(
      `the server refused a login link (HTTP ${res.status}): ${typeof body.message === 'string' ? body.message : ''}`,
    );
  }
  if (typeof body.url !== 'string') throw new CliError('the server answered a login link without a URL');
  return body.url;
}

/**
 * Open `link` in the desktop's browser without putting it on a command line (other users can read
 * process arguments): a private HTML page that redirects to it is opened instead, as Jupyter does.
 */
function openInBrowser(link: string): string {
  // a fresh private directory (mkdtemp: created atomically, 0700), never a predictable path that
  // another user could have prepared
  const page = join(mkdtempSync(join(tmpdir(), 'scripthut-open-')), 'open.html');
  const attr = link.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  writeFileSync(
    page,
    `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${attr}"><title>ScriptHut</title><a href="${attr}">Open ScriptHut</a>\n`,
    { mode: 0o600 },
  );
  const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
  const child = spawn(opener, [page], { detached: true, stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
  return opener;
}

export default command({
  meta: {
    name: 'open',
    description:
      'Print a one-time login URL of the web UI (starting the daemon if needed); --browser opens it',
  },
  args: {
    browser: { type: 'boolean', alias: 'b', description: 'Also open it in the desktop browser' },
  },
  examples: ['scripthut open', 'scripthut open --browser'],
  async run(args, ctx) {
    await ctx.api();
    const conn = ctx.connection();
    if (conn?.mode !== 'server' || !conn.url) {
      throw new CliError(
        'the web UI needs a running server, and this command runs without one (--no-daemon)',
        {
          exitCode: ExitCode.usage,
          hint: 'drop --no-daemon / SCRIPTHUT_NO_DAEMON, or start one: `scripthut daemon start`',
        },
      );
    }
    const link = await fetchLoginLink(conn.url, conn.token);
    const url = link ?? `${conn.url}/`;
    ctx.out.result({ url, oneTime: link !== null }, () => url);
    if (!link)
      ctx.out.info(
        'note: this server has no login links; sign in with the token from its data dir (auth_token)',
      );
    if (args.browser) {
      const opener = openInBrowser(url);
      ctx.out.info(`opening it with ${opener}…`);
    }
    return 0;
  },
});
