/**
 * In Debian's headless Chromium, against the real server and runtime with a config file:
 * - signing in: a page needs a session, the one-time link printed at start signs in once and lands
 *   on a clean URL with an HttpOnly SameSite=Strict cookie, the login form works with the token;
 * - the settings page saves: an invalid edit shows the positioned error and writes nothing; a valid
 *   one writes the text as typed, keeps a backup, and reloads (the change is live).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type Runtime } from '@scripthut/runtime';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/index.js';
import { launchChromium } from './browser.js';

const CONFIG = `# Lab config: these comments must survive a save from the browser.
backends:
  - name: local
    type: local   # tasks run on this machine

workflows:
  - name: hello
    backend: local
    description: "says hello"
    command: echo '{"tasks":[{"id":"a","name":"A","command":"echo hi"}]}'
`;

let dir: string;
let configPath: string;
let runtime: Runtime;
let server: RunningServer;
let startLogs: string[];
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sh-e2e-login-'));
  configPath = join(dir, 'scripthut.yaml');
  writeFileSync(configPath, CONFIG);
  runtime = await createRuntime({
    cwd: dir,
    configPath,
    dataDir: join(dir, 'data'),
    pollIntervalMs: 500,
    logger: { info() {}, warn() {}, error() {} },
  });
  await runtime.start();
  startLogs = [];
  server = await startServer(runtime, { host: '127.0.0.1', port: 0, env: {}, log: (m) => startLogs.push(m) });
  context = await launchChromium(join(dir, 'profile'));
  page = context.pages()[0] ?? (await context.newPage());
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  await runtime?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const token = () => readFileSync(join(dir, 'data', 'auth_token'), 'utf8').trim();
const backups = () => readdirSync(dir).filter((f) => f.endsWith('.bak'));

describe('signing in from a browser', () => {
  it('shows the login page (401) until signed in', async () => {
    const res = await page.goto(`${server.url}/runs`);
    expect(res?.status()).toBe(401);
    expect(await page.locator('input[name="token"]').count()).toBe(1);
    expect(await page.content()).not.toContain(token());
  });

  it('the one-time link printed at start signs in once, onto a clean URL', async () => {
    const link = /Sign in from a browser: (\S+)/.exec(startLogs.join('\n'))?.[1] as string;
    expect(link).toContain('?login=');
    await page.goto(link);
    expect(page.url()).toBe(`${server.url}/`);
    await page.waitForSelector('[data-backend="local"]');
    const session = (await context.cookies()).find((c) => c.name === 'sh_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate(() => document.cookie)).not.toContain('sh_session');

    // The same link in another browser profile does not sign in again.
    const other = await launchChromium(join(dir, 'profile-2'));
    try {
      const p2 = other.pages()[0] ?? (await other.newPage());
      const res = await p2.goto(link);
      expect(res?.status()).toBe(401);
      expect(await p2.locator('.notice.bad').textContent()).toContain('invalid, expired or was already used');
      // The login form with the token works, and returns to the page asked for.
      await p2.goto(`${server.url}/workflows`);
      await p2.fill('input[name="token"]', token());
      await p2.click('button[type="submit"]');
      await p2.waitForURL(`${server.url}/workflows`);
      await p2.waitForSelector('tr[data-workflow="hello"]');
    } finally {
      await other.close();
    }
  });
});

describe('saving the settings page', () => {
  it('an invalid edit shows the positioned error and writes nothing', async () => {
    await page.goto(`${server.url}/settings`);
    expect(await page.inputValue('textarea[name="text"]')).toBe(CONFIG);
    await page.fill('textarea[name="text"]', CONFIG.replace('type: local   #', 'type: locl   #'));
    await page.click('button:has-text("Save & reload")');
    await page.waitForSelector('[data-invalid]');
    const error = (await page.locator('[data-invalid]').textContent()) ?? '';
    expect(error).toContain('backends[0].type');
    expect(error).toContain('(line 4)');
    expect(error).toContain('nothing was saved');
    // The edit stays in the editor; the file and the directory are untouched.
    expect(await page.inputValue('textarea[name="text"]')).toContain('type: locl');
    expect(readFileSync(configPath, 'utf8')).toBe(CONFIG);
    expect(backups()).toEqual([]);
  });

  it('a valid edit is written as typed, backed up, and reloaded', async () => {
    await page.goto(`${server.url}/settings`);
    const edited = CONFIG.replace('says hello', 'says hello, edited in the browser').replace(
      '# Lab config',
      '# Lab config (edited)',
    );
    await page.fill('textarea[name="text"]', edited);
    await page.click('button:has-text("Save & reload")');
    await page.waitForSelector('[data-saved]');
    const saved = (await page.locator('[data-saved]').textContent()) ?? '';
    expect(saved).toContain('Applied live: workflows: changed "hello"');
    expect(readFileSync(configPath, 'utf8')).toBe(edited);
    expect(backups()).toHaveLength(1);
    expect(saved).toContain(backups()[0]);
    expect(readFileSync(join(dir, backups()[0] as string), 'utf8')).toBe(CONFIG);
    expect(runtime.listWorkflows().find((w) => w.name === 'hello')?.description).toBe(
      'says hello, edited in the browser',
    );
    expect(await page.inputValue('textarea[name="text"]')).toBe(edited);
  });
});
