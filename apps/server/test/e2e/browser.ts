/** Debian's headless Chromium driven by playwright-core, as every browser test launches it. */
import { existsSync } from 'node:fs';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Waits (bounded) for the Chromium binary: CI may still be installing it. */
export async function waitForChromium(timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(CHROMIUM)) {
    if (Date.now() > deadline) throw new Error(`${CHROMIUM} not found (apt-get install chromium)`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** A headless Chromium with its own profile directory. */
export async function launchChromium(profileDir: string): Promise<BrowserContext> {
  await waitForChromium();
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
}
