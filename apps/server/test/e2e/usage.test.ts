/**
 * End-to-end: usage figures in the browser. The real runtime (local backend: jobs under GNU time)
 * runs a task that holds ~200 MB after ~1 CPU-second with 4 CPUs and 4G requested; Chromium sees
 * its node/elapsed/CPU time/MaxRSS on the task page, the usage summary and the advice on the run
 * page (real start/end on the timeline), and CPU eff./MaxRSS in the dashboard's jobs table with the
 * CPU-hours heatmap from the usage ledger.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScriptHutRuntime } from '@scripthut/runtime';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/index.js';
import { launchChromium } from './browser.js';

let dataDir: string;
let profileDir: string;
let runtime: ScriptHutRuntime;
let server: { url: string; loginUrl(path?: string): string; close(): Promise<void> };
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'scripthut-e2e-usage-'));
  profileDir = mkdtempSync(join(tmpdir(), 'scripthut-e2e-usage-chromium-'));
  const { createRuntime } = await import('@scripthut/runtime');
  runtime = (await createRuntime({
    dataDir,
    cwd: dataDir,
    pollIntervalMs: 300,
  })) as unknown as ScriptHutRuntime;
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
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const PROGRAM = [
  'import time',
  'b = bytearray(200 * 1024 * 1024)',
  'for i in range(0, len(b), 4096): b[i] = 1',
  't = time.process_time()',
  'while time.process_time() - t < 1.0: pass',
  'time.sleep(1)',
].join('\n');

describe('usage in the web UI (Chromium)', () => {
  let runId = '';

  it('the task page shows node, elapsed, CPU time with efficiency and MaxRSS within 1.5×', async () => {
    const summary = await runtime.runAdhocTask({
      backend: 'local',
      id: 'mem.burn',
      command: `python3 - <<'PY'\n${PROGRAM}\nPY`,
      cpus: 4,
      memory: '4G',
    });
    runId = summary.run.id;
    await page.goto(`${server.url}/runs/${runId}/tasks/mem.burn`);
    // live updates fill the usage in once the job ended and GNU time wrote it
    await expect
      .poll(() => page.locator('[data-usage-status]').getAttribute('data-usage-status'), { timeout: 30_000 })
      .toBe('ok');
    const maxrss = (await page.locator('[data-usage="maxrss"]').textContent()) ?? '';
    const m = /^(\d+(?:\.\d+)?)M of 4G requested \((\d+)%\)$/.exec(maxrss.trim());
    expect(m, maxrss).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(200 / 1.5);
    expect(Number(m![1])).toBeLessThanOrEqual(200 * 1.5);
    const cpu = (await page.locator('[data-usage="cpu"]').textContent()) ?? '';
    const c = /^(\d+\.\d+) s on 4 cpu \(efficiency (\d+)%\)$/.exec(cpu.trim());
    expect(c, cpu).not.toBeNull();
    expect(Number(c![1])).toBeGreaterThanOrEqual(1 / 1.5);
    expect(Number(c![1])).toBeLessThanOrEqual(1.5);
    expect(await page.locator('[data-usage="elapsed"]').textContent()).not.toBe('—');
  });

  it('the run page shows CPU-hours, the advice for the group, and the timeline bar at the real start', async () => {
    await page.goto(`${server.url}/runs/${runId}`);
    await expect
      .poll(() => page.locator('#run-usage-panel [data-usage="cpu-hours"]').textContent())
      .toMatch(/allocated · \d+\.\d+ used · efficiency \d+%/);
    const advice = await page.locator('#run-usage-panel [data-advice] li').allTextContents();
    expect(advice).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^mem\.\*: requested 4G, peak \d+M \(p95 \d+M\): (256M|512M) would fit$/),
        expect.stringMatching(/^mem\.\*: cpus 4, efficiency \d+%: 1 CPU would do$/),
      ]),
    );
    await page.goto(`${server.url}/runs/${runId}?view=timeline`);
    expect(await page.locator('.gantt .runbar.completed').count()).toBe(1);
  });

  it('the dashboard: CPU eff. and MaxRSS columns, and the CPU-hours heatmap from the ledger', async () => {
    await page.goto(`${server.url}/`);
    const headers = await page.locator('#jobs-table th').allTextContents();
    expect(headers).toEqual(expect.arrayContaining(['CPU eff.', 'MaxRSS']));
    const row = page.locator('#jobs-table tr', { hasText: runId });
    expect(await row.locator('td').nth(7).textContent()).toMatch(/^\d+%$/);
    expect(await row.locator('td').nth(8).textContent()).toMatch(/^\d+(\.\d+)?M$/);
    const today = new Date().toISOString().slice(0, 10);
    expect(
      Number(await page.locator(`#usage-heatmap rect[data-day="${today}"]`).getAttribute('data-level')),
    ).toBeGreaterThan(0);
    expect(Number(await page.locator('#usage-heatmap').getAttribute('data-total-cpu-hours'))).toBeGreaterThan(
      0,
    );
    // survives deleting the run (retention): the ledger keeps the totals
    runtime.deleteRun(runId);
    await page.goto(`${server.url}/`);
    expect(
      Number(await page.locator(`#usage-heatmap rect[data-day="${today}"]`).getAttribute('data-level')),
    ).toBeGreaterThan(0);
  });
});
