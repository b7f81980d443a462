/**
 * Browser terminals end to end: the real server and runtime with a Slurm backend on the local test
 * cluster (sshd on 127.0.0.1:2222, brought up by scripts/cluster/up.sh), driven by Debian's
 * headless Chromium. Run under the cluster lock:
 * `flock /tmp/scripthut-cluster.lock pnpm exec vitest run --project e2e apps/server/test/e2e/terminal.test.ts`
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type Runtime } from '@scripthut/runtime';
import { SshConnection } from '@scripthut/ssh';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import setupCluster from '../../../../scripts/cluster/vitest-global-setup.js';
import { startServer } from '../../src/index.js';
import { launchChromium } from './browser.js';

const SHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');

function env(key: string): string {
  const v = process.env[`SCRIPTHUT_TEST_${key}`];
  if (!v) throw new Error(`SCRIPTHUT_TEST_${key} is not set: the cluster setup did not run`);
  return v;
}

let local: string;
let profileDir: string;
let rt: Runtime;
let server: Awaited<ReturnType<typeof startServer>>;
let context: BrowserContext;
let page: Page;

/** The visible text of the page's terminal (xterm's buffer, trailing blanks trimmed). */
async function screenText(p: Page): Promise<string> {
  return p.evaluate(() => {
    const term = (
      window as unknown as {
        scripthutTerminal?: {
          buffer: {
            active: {
              length: number;
              getLine(i: number): { translateToString(trim: boolean): string } | undefined;
            };
          };
        };
      }
    ).scripthutTerminal;
    if (!term) return '';
    const buf = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n');
  });
}

async function openLoginTerminal(p: Page): Promise<void> {
  await p.goto(`${server.url}/backends/hpc/terminal`);
  await expect
    .poll(() => p.locator('#terminal-status').getAttribute('data-state'), { timeout: 30_000 })
    .toBe('open');
}

/** Types a command line into the terminal. */
async function type(p: Page, text: string): Promise<void> {
  await p.locator('#terminal .xterm-helper-textarea').focus();
  await p.keyboard.type(text);
  await p.keyboard.press('Enter');
}

beforeAll(async () => {
  setupCluster();
  mkdirSync(SHOTS, { recursive: true });
  local = mkdtempSync(join(tmpdir(), 'scripthut-e2e-terminal-'));
  profileDir = mkdtempSync(join(tmpdir(), 'scripthut-e2e-terminal-chromium-'));
  writeFileSync(
    join(local, 'scripthut.yaml'),
    // poll_interval 5: the jobs list refreshes jobs ScriptHut did not start every 10 s (default 120 s)
    `settings:
  poll_interval: 5
backends:
  - name: hpc
    type: slurm
    ssh:
      host: ${env('SSH_HOST')}
      port: ${env('SSH_PORT')}
      user: ${env('SSH_USER')}
      key_path: ${env('SSH_KEY')}
      known_hosts: ${env('SSH_KNOWN_HOSTS')}
    max_concurrent: 2
`,
  );
  rt = await createRuntime({
    cwd: local,
    dataDir: join(local, 'data'),
    pollIntervalMs: 1000,
    logger: { info() {}, warn() {}, error: (m) => process.stderr.write(`[runtime] ${m}\n`) },
  });
  await rt.start();
  server = await startServer(rt, { host: '127.0.0.1', port: 0, env: {} });
  context = await launchChromium(profileDir);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (d) => void d.accept());
  await page.goto(server.loginUrl());
  await page.waitForURL(`${server.url}/`);
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  await rt?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  if (local) rmSync(local, { recursive: true, force: true });
});

describe('terminal on an SSH backend, in Chromium', () => {
  it('opens a login shell that runs hostname, with UTF-8 intact', async () => {
    await page.goto(`${server.url}/backends/hpc`);
    await page.locator('#open-terminal').click();
    await page.waitForURL('**/backends/hpc/terminal');
    await expect
      .poll(() => page.locator('#terminal-status').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('open');
    await type(page, 'echo "host=$(hostname) term=$TERM"');
    // Non-ASCII input as the terminal sends it (xterm's onData), pasted: Playwright's keyboard types
    // characters beyond US keys as IME text, which xterm reorders against the next key presses.
    await page.evaluate(() =>
      (window as unknown as { scripthutTerminal: { paste(t: string): void } }).scripthutTerminal.paste(
        'echo "in=é☃"',
      ),
    );
    await page.keyboard.press('Enter');
    await type(page, "printf 'utf8=%s\\n' \"$(printf '\\xc3\\xa9\\xe2\\x98\\x83')\"");
    await expect
      .poll(() => screenText(page), { timeout: 20_000 })
      .toContain(`host=${env('SLURM_NODE')} term=xterm-256color`);
    await expect.poll(() => screenText(page), { timeout: 20_000 }).toContain('utf8=é☃');
    expect(await screenText(page)).toMatch(/^in=é☃$/m);
    await page.screenshot({ path: join(SHOTS, 'terminal-login.png') });
    const sessions = (await (await page.request.get(`${server.url}/api/v1/terminals`)).json()) as {
      items: { backend: string; kind: string }[];
    };
    expect(sessions.items).toEqual([expect.objectContaining({ backend: 'hpc', kind: 'login' })]);
    // the command log records the terminal, not what was typed
    const log = rt.getBackend('hpc').commandLog.map((e) => e.command);
    expect(log).toContain('terminal: login shell (started)');
    expect(log.join('\n')).not.toContain('hostname');
  });

  it('follows a resize: stty size reports the new rows and columns', async () => {
    await openLoginTerminal(page);
    await type(page, 'echo "size=$(stty size)"');
    await expect.poll(() => screenText(page), { timeout: 20_000 }).toMatch(/size=\d+ \d+/);
    const before = /size=(\d+) (\d+)/.exec(await screenText(page))!;
    await page.setViewportSize({ width: 700, height: 500 });
    await expect
      .poll(() =>
        page.evaluate(
          () => (window as unknown as { scripthutTerminal: { cols: number } }).scripthutTerminal.cols,
        ),
      )
      .toBeLessThan(Number(before[2]));
    const { cols, rows } = await page.evaluate(() => {
      const t = (window as unknown as { scripthutTerminal: { cols: number; rows: number } })
        .scripthutTerminal;
      return { cols: t.cols, rows: t.rows };
    });
    await type(page, 'clear; echo "resized=$(stty size)"');
    await expect.poll(() => screenText(page), { timeout: 20_000 }).toContain(`resized=${rows} ${cols}`);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('ends the SSH channel when the tab closes, and lists only open sessions', async () => {
    const tab = await context.newPage();
    await openLoginTerminal(tab);
    const count = async () =>
      ((await (await page.request.get(`${server.url}/api/v1/terminals`)).json()) as { items: unknown[] })
        .items.length;
    const open = await count();
    expect(open).toBeGreaterThanOrEqual(1);
    await tab.close();
    await expect.poll(count, { timeout: 20_000 }).toBe(open - 1);
    await expect
      .poll(
        () =>
          rt.getBackend('hpc').commandLog.filter((e) => e.command === 'terminal: login shell (ended)').length,
      )
      .toBeGreaterThanOrEqual(1);
  });

  it('closes a session from the list', async () => {
    await openLoginTerminal(page);
    const other = await context.newPage();
    other.on('dialog', (d) => void d.accept());
    await other.goto(`${server.url}/terminals`);
    const id = await page.locator('#terminal').getAttribute('data-session');
    expect(id).toMatch(/^[0-9a-f]{16}$/);
    await other.locator(`tr[data-terminal-session="${id}"] button`, { hasText: 'Close' }).click();
    await other.waitForURL('**/terminals');
    await expect.poll(() => page.locator('#terminal-status').getAttribute('data-state')).not.toBe('open');
    expect(await other.locator(`tr[data-terminal-session="${id}"]`).count()).toBe(0);
    await other.close();
  });

  it('refuses a WebSocket without the session cookie, and one from a foreign Origin', async () => {
    const url = `${server.url.replace(/^http/, 'ws')}/api/v1/backends/hpc/terminal?kind=login`;
    const cookies = await context.cookies(server.url);
    const cookieHeader = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const attempt = (headers: Record<string, string>) =>
      new Promise<{ opened: boolean; status: number | null }>((resolve) => {
        const ws = new WebSocket(url, { headers });
        ws.on('open', () => {
          ws.close();
          resolve({ opened: true, status: 101 });
        });
        ws.on('unexpected-response', (_req, res) => {
          resolve({ opened: false, status: res.statusCode ?? null });
          ws.terminate();
        });
        ws.on('error', () => resolve({ opened: false, status: null }));
      });
    // A second tab opened without the cookie: the browser's own WebSocket must fail.
    const anon = await (await launchChromium(mkdtempSync(join(tmpdir(), 'scripthut-e2e-anon-')))).newPage();
    await anon.goto(`${server.url}/login`);
    const browserResult = await anon.evaluate(
      (u) =>
        new Promise<string>((resolve) => {
          const ws = new globalThis.WebSocket(u); // the browser's (not the `ws` import of this file)
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('refused');
        }),
      url,
    );
    expect(browserResult).toBe('refused');
    await anon.context().close();

    expect(await attempt({ Origin: server.url })).toEqual({ opened: false, status: 401 });
    expect(await attempt({ Origin: 'http://evil.example', Cookie: cookieHeader })).toEqual({
      opened: false,
      status: 403,
    });
    expect(await attempt({ Cookie: cookieHeader })).toEqual({ opened: false, status: 403 }); // no Origin
    expect(await attempt({ Origin: server.url, Cookie: cookieHeader, Host: 'evil.example' })).toEqual({
      opened: false,
      status: 403,
    });
    // the same request with the cookie and this server's Origin opens
    expect(await attempt({ Origin: server.url, Cookie: cookieHeader })).toEqual({
      opened: true,
      status: 101,
    });
  });
});

describe('interactive debug of a failed Slurm task, in Chromium', () => {
  it('opens the task environment in tmux on the node, runs the original command, and Release completes the job', async () => {
    const created = await rt.runAdhocTask({
      backend: 'hpc',
      id: 'flaky',
      command: 'echo "probe=$DEBUG_PROBE in $PWD"; exit 3',
      env: { DEBUG_PROBE: 'visible-42' },
      memory: '50M',
      timeLimit: '0:05:00',
    });
    const runId = created.run.id;
    await expect.poll(() => rt.getRun(runId).status, { timeout: 120_000, interval: 500 }).toBe('failed');
    const taskUrl = `${server.url}/runs/${runId}/tasks/flaky`;
    await page.goto(taskUrl);
    await page.locator('#task-debug').click();
    await page.waitForURL(taskUrl);
    // the debug job is linked to the task and shown on its page
    await expect
      .poll(
        async () => {
          await page.goto(taskUrl);
          return page.locator('#debug-sessions tr[data-debug-state="running"]').count();
        },
        { timeout: 120_000, interval: 1000 },
      )
      .toBe(1);
    const session = (await page
      .locator('#debug-sessions tr[data-debug-session]')
      .getAttribute('data-debug-session'))!;
    const [debugJob] = await rt.debugSessions(runId, 'flaky');
    expect(debugJob).toMatchObject({ session, state: 'running', taskId: 'flaky' });
    expect(debugJob!.jobId).not.toBe(rt.getTask(runId, 'flaky').jobId);

    await page.locator(`a[data-attach="${session}"]`).click();
    await expect
      .poll(() => page.locator('#terminal-status').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('open');
    await expect.poll(() => screenText(page), { timeout: 30_000 }).toContain('Run it with');
    await type(page, 'echo "env=$DEBUG_PROBE on $(hostname)"');
    await expect.poll(() => screenText(page), { timeout: 20_000 }).toMatch(/^env=visible-42 on \S+$/m);
    await type(page, 'bash "$SCRIPTHUT_DEBUG_DIR/command.sh"; echo "rc=$?"');
    await expect.poll(() => screenText(page), { timeout: 20_000 }).toMatch(/^rc=3$/m);
    expect(await screenText(page)).toMatch(/^probe=visible-42 in \//m);
    await page.screenshot({ path: join(SHOTS, 'debug-session.png') });

    await page.goto(taskUrl);
    await page.locator(`button[data-release="${session}"]`).click();
    await page.waitForURL(taskUrl);
    const ssh = new SshConnection({
      host: env('SSH_HOST'),
      port: Number(env('SSH_PORT')),
      user: env('SSH_USER'),
      keyPath: env('SSH_KEY'),
      knownHostsPath: env('SSH_KNOWN_HOSTS'),
    });
    try {
      await expect
        .poll(
          async () =>
            (await ssh.exec(`sacct -n -X -P -j ${debugJob!.jobId} -o State,ExitCode`)).stdout.trim(),
          {
            timeout: 60_000,
            interval: 1000,
          },
        )
        .toBe('COMPLETED|0:0');
    } finally {
      await ssh.close();
    }
    await expect
      .poll(async () => (await rt.debugSessions(runId, 'flaky'))[0]?.state, {
        timeout: 60_000,
        interval: 1000,
      })
      .toBe('completed');
  });
});

describe('jobs view: your other jobs, in Chromium', () => {
  it('cancels your own job that ScriptHut did not start (after confirming), and forgets a finished task row', async () => {
    const ssh = new SshConnection({
      host: env('SSH_HOST'),
      port: Number(env('SSH_PORT')),
      user: env('SSH_USER'),
      keyPath: env('SSH_KEY'),
      knownHostsPath: env('SSH_KNOWN_HOSTS'),
    });
    try {
      const sub = await ssh.exec("sbatch --parsable -J by-hand --mem=20M -t 0:05:00 --wrap 'sleep 240'");
      expect(sub.exitCode).toBe(0);
      const jobId = sub.stdout.trim().split(';')[0]!;
      const dialogs: string[] = [];
      page.on('dialog', (d) => dialogs.push(d.message()));
      await expect
        .poll(
          async () => {
            await page.goto(`${server.url}/`);
            return page.locator(`button[data-cancel="${jobId}"]`).count();
          },
          { timeout: 90_000, interval: 2000 },
        )
        .toBe(1);
      await page.locator(`button[data-cancel="${jobId}"]`).click();
      await page.waitForURL(`${server.url}/#jobs`);
      expect(dialogs.some((m) => m.includes(`Cancel job ${jobId}`))).toBe(true);
      await expect
        .poll(async () => (await ssh.exec(`sacct -n -X -P -j ${jobId} -o State`)).stdout.trim(), {
          timeout: 60_000,
          interval: 1000,
        })
        .toMatch(/^CANCELLED/);

      // the failed task of the debug test is a finished row: Forget hides it
      const run = rt.listRuns({ limit: 50 }).items.find((r) => r.run.workflowName.includes('flaky'));
      const taskJob = run ? rt.getTask(run.run.id, 'flaky').jobId : null;
      expect(taskJob).toMatch(/^\d+$/);
      await page.goto(`${server.url}/`);
      await page.locator(`button[data-forget="${taskJob}"]`).click();
      await page.waitForURL(`${server.url}/#jobs`);
      expect(await page.locator(`button[data-forget="${taskJob}"]`).count()).toBe(0);
      expect(rt.listJobs().some((j) => j.jobId === taskJob)).toBe(false);
      await page.screenshot({ path: join(SHOTS, 'jobs-actions.png'), fullPage: true });
    } finally {
      await ssh.close();
    }
  });
});
