/**
 * End-to-end in Debian's headless Chromium against the real server and runtime (local backend, real
 * bash jobs): live counts in the page title while a run is active, toasts when a task fails and when
 * the run finishes, a task's Outputs tab with its PNG shown inline and its markdown summary rendered
 * (and sanitised), and the run summary panel. Screenshots go to apps/server/test-results/screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '@scripthut/runtime';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/index.js';
import { launchChromium } from './browser.js';

const SHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');
const PNG_8X8 =
  'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAEUlEQVR4nGPQCD+KFTEMLQkAf1lRARKyOOoAAAAASUVORK5CYII=';

let dir: string;
let profileDir: string;
let runtime: Runtime;
let server: { url: string; loginUrl(path?: string): string; close(): Promise<void> };
let context: BrowserContext;
let page: Page;
let flag: string;
const WF = 'fit';

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'scripthut-e2e-out-'));
  profileDir = mkdtempSync(join(tmpdir(), 'scripthut-e2e-chromium-'));
  flag = join(dir, 'go');
  const tasks = [
    {
      id: 'plot',
      name: 'plot',
      command: [
        `while [ ! -e '${flag}' ]; do sleep 0.1; done`,
        `printf '%s' '${PNG_8X8}' | base64 -d >"$SCRIPTHUT_OUTPUT_DIR/plot.png"`,
        'echo a,b >"$SCRIPTHUT_OUTPUT_DIR/table.csv"',
        `printf '# Fit report\\n\\n![the plot](plot.png)\\n\\n<script>window.pwned=1</script>\\n\\n[x](javascript:alert(1))\\n' >"$SCRIPTHUT_TASK_SUMMARY"`,
        `printf 'Best fit: **r2 = 0.93**\\n' >"$SCRIPTHUT_RUN_SUMMARY"`,
      ].join('\n'),
    },
    { id: 'broken', name: 'broken', command: `while [ ! -e '${flag}' ]; do sleep 0.1; done; exit 3` },
  ];
  writeFileSync(join(dir, 'tasks.json'), JSON.stringify({ tasks }));
  writeFileSync(
    join(dir, 'scripthut.yaml'),
    `backends:\n  - name: laptop\n    type: local\nworkflows:\n  - { name: ${WF}, backend: laptop, command: "cat ${join(dir, 'tasks.json')}" }\n`,
  );
  const { createRuntime } = await import('@scripthut/runtime');
  runtime = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    pollIntervalMs: 300,
    logger: { info() {}, warn() {}, error() {} },
  });
  await runtime.start();
  server = await startServer(runtime, { host: '127.0.0.1', port: 0, env: {} });
  context = await launchChromium(profileDir);
  page = context.pages()[0] ?? (await context.newPage());
  await page.goto(server.loginUrl());
  await page.waitForURL(`${server.url}/`);
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  await runtime?.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('outputs and notifications in Chromium', () => {
  let runId = '';

  it('shows live counts in the title, then toasts for the failed task and the finished run', async () => {
    await page.goto(`${server.url}/runs`);
    const run = await runtime.runWorkflow(WF);
    runId = run.run.id;
    await expect
      .poll(() => page.title(), { timeout: 30_000 })
      .toMatch(/^\(2 running, 0 waiting\) .*ScriptHut$/);
    await shot('title-counts');
    writeFileSync(flag, '');
    await page.locator('.toast[data-kind="task_failed"]').waitFor({ timeout: 30_000 });
    await page.locator('.toast[data-kind="run_done"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('.toast[data-kind="task_failed"]').textContent()).toContain('broken');
    expect(await page.locator('.toast[data-kind="run_done"] a').getAttribute('href')).toBe(`/runs/${runId}`);
    await expect.poll(() => page.title(), { timeout: 30_000 }).not.toMatch(/^\(/);
    await shot('toasts');
  });

  it("shows the task's PNG inline and its sanitised markdown summary on the Outputs tab", async () => {
    const url = `${server.url}/runs/${runId}/tasks/plot?tab=outputs`;
    await expect
      .poll(
        async () => {
          await page.goto(url);
          return page.locator('#outputs').count();
        },
        { timeout: 30_000 },
      )
      .toBe(1);
    expect(await page.locator('#task-summary h1').textContent()).toBe('Fit report');
    // the summary's image reference became the authenticated file route, and it loaded
    const summaryImg = page.locator('#task-summary img');
    expect(await summaryImg.getAttribute('src')).toBe(
      `/api/v1/runs/${runId}/tasks/plot/outputs/file?path=plot.png`,
    );
    await expect
      .poll(() => summaryImg.evaluate((img) => (img as HTMLImageElement).naturalWidth), { timeout: 10_000 })
      .toBe(8);
    await expect
      .poll(() =>
        page
          .locator('.outputs-images img')
          .first()
          .evaluate((img) => (img as HTMLImageElement).naturalWidth),
      )
      .toBe(8);
    // no script survived, no javascript: link, the page's scripts did not run it
    expect(await page.locator('#task-summary script').count()).toBe(0);
    expect(await page.locator('#task-summary a[href^="javascript"]').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    const csv = page.locator('#output-files tr', { hasText: 'table.csv' }).locator('a');
    const href = (await csv.getAttribute('href'))!;
    const res = await page.request.get(`${server.url}${href}`);
    expect(res.status()).toBe(200);
    expect(await res.text()).toBe('a,b\n');
    expect(res.headers()['content-disposition']).toMatch(/^attachment/);
    await shot('task-outputs');
  });

  it('shows the run summary panel built from the tasks’ fragments', async () => {
    await page.goto(`${server.url}/runs/${runId}`);
    const panel = page.locator('#run-output-summary');
    expect(await panel.locator('strong').textContent()).toBe('r2 = 0.93');
    await shot('run-summary');
  });

  it('an output file needs a session', async () => {
    const res = await fetch(`${server.url}/api/v1/runs/${runId}/tasks/plot/outputs/file?path=plot.png`);
    expect(res.status).toBe(401);
  });
});

async function shot(name: string) {
  await page.screenshot({ path: join(SHOTS, `outputs-${name}.png`), fullPage: true });
}
