/**
 * End-to-end: the real server (real runtime, temp data dir, embedded default config → `local`
 * backend + `demo` workflow) on a free 127.0.0.1 port, driven by Debian's headless Chromium.
 * Screenshots of every page go to apps/server/test-results/screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScriptHutRuntime } from '@scripthut/runtime';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/index.js';
import { launchChromium } from './browser.js';

const SHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'screenshots');

let dataDir: string;
let profileDir: string;
let runtime: ScriptHutRuntime;
let server: { url: string; loginUrl(path?: string): string; close(): Promise<void> };
let context: BrowserContext;
let page: Page;

async function makeRuntime(dir: string): Promise<ScriptHutRuntime> {
  if (process.env.SCRIPTHUT_E2E_STUB === '1') {
    // Development aid only (the real runtime is the default): a simulated scheduler.
    const { StubRuntime } = await import('../stub-runtime.js');
    return new StubRuntime({ autoAdvance: true, stepMs: 1200 });
  }
  const { createRuntime } = await import('@scripthut/runtime');
  return (await createRuntime({
    dataDir: dir,
    cwd: dir,
    pollIntervalMs: 300,
  })) as unknown as ScriptHutRuntime;
}

async function shot(name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'scripthut-e2e-'));
  profileDir = mkdtempSync(join(tmpdir(), 'scripthut-e2e-chromium-'));
  runtime = await makeRuntime(dataDir);
  await runtime.start();
  server = await startServer(runtime, { host: '127.0.0.1', port: 0, env: {} });
  context = await launchChromium(profileDir);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (d) => void d.accept());
  // Every page needs a session: sign in through a one-time link, as a user would.
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

describe('web UI in Chromium', () => {
  let firstRunUrl = '';

  it('shows the dashboard with the local backend', async () => {
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.locator('[data-backend="local"]').count()).toBe(1);
    expect(await page.locator('#live-indicator').textContent()).toBe('live');
    await shot('dashboard');
  });

  it('dry-runs the demo workflow and shows every generated script', async () => {
    await page.goto(`${server.url}/workflows`);
    await shot('workflows');
    await page.locator('tr[data-workflow="demo"] button', { hasText: 'Dry run' }).click();
    await page.waitForURL('**/ui/dry-run');
    const scripts = await page.locator('details.group pre').count();
    expect(scripts).toBeGreaterThanOrEqual(3);
    expect(await page.locator('details.group pre').first().textContent()).toMatch(/#!\/bin\/(ba)?sh|echo/);
    await shot('dry-run');
  });

  it('starts the demo run and watches it reach completed live, without reload', async () => {
    await page.goto(`${server.url}/workflows`);
    await page.locator('tr[data-workflow="demo"] button[data-run]').click();
    await page.waitForURL(/\/runs\/[A-Za-z0-9_-]+$/);
    firstRunUrl = page.url();
    // Mark this document: a reload would lose the mark.
    await page.evaluate(() => {
      (globalThis as unknown as { __noReload: number }).__noReload = 42;
    });
    await page.waitForSelector('[data-run-status="running"], [data-run-status="pending"]', {
      timeout: 15_000,
    });
    await shot('run-in-progress');
    await page.waitForSelector('[data-run-status="completed"]', { timeout: 60_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: number }).__noReload)).toBe(42);
    expect(await page.locator('#run-tasks tr[data-state="completed"]').count()).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#run-tasks tr[data-state]:not([data-state="completed"])').count()).toBe(0);
    await shot('run-completed');
    await page.locator('.tabs a', { hasText: 'Timeline' }).click();
    await page.waitForSelector('.gantt .runbar.completed');
    await shot('run-timeline');
  });

  it('opens a task log', async () => {
    await page.goto(firstRunUrl);
    await page.locator('#run-tasks tr[data-task] a').first().click();
    await page.waitForURL(/\/tasks\//);
    await expect
      .poll(async () => (await page.locator('#log').textContent())?.trim().length ?? 0, { timeout: 10_000 })
      .toBeGreaterThan(0);
    expect(await page.locator('#log').textContent()).not.toContain('(no output yet)');
    await shot('task-log');
    await page.locator('.tabs a', { hasText: 'Script' }).click();
    await page.waitForURL(/tab=script/);
    await shot('task-script');
  });

  it('starts and cancels a second run', async () => {
    await page.goto(`${server.url}/workflows`);
    await page.locator('tr[data-workflow="demo"] button[data-run]').click();
    await page.waitForURL(/\/runs\/[A-Za-z0-9_-]+$/);
    expect(page.url()).not.toBe(firstRunUrl);
    await page.locator('button', { hasText: 'Cancel run' }).click();
    await page.waitForSelector('[data-run-status="cancelled"]', { timeout: 30_000 });
    await shot('run-cancelled');
    await page.goto(`${server.url}/runs`);
    expect(await page.locator('tr[data-run]').count()).toBe(2);
    expect(await page.locator('tr[data-run] .pill.completed').count()).toBe(1);
    expect(await page.locator('tr[data-run] .pill.cancelled').count()).toBe(1);
    await shot('runs');
  });

  it('settings page shows the config and reloads it', async () => {
    await page.goto(`${server.url}/settings`);
    await shot('settings');
    await page.locator('button', { hasText: 'Reload config' }).click();
    await page.waitForSelector('.notice');
    await shot('settings-reloaded');
  });
});
