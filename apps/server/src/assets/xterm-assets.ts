/**
 * The terminal page's static files: xterm.js, its fit addon and stylesheet, read once from the
 * installed `@xterm/xterm` and `@xterm/addon-fit` packages (no CDN), plus `terminal.js`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Hono } from 'hono';
import { TERMINAL_JS } from './terminal-js.js';

const require = createRequire(import.meta.url);

const FILES: Record<string, { module: string; type: string }> = {
  '/assets/xterm.js': { module: '@xterm/xterm/lib/xterm.js', type: 'text/javascript; charset=utf-8' },
  '/assets/xterm.css': { module: '@xterm/xterm/css/xterm.css', type: 'text/css; charset=utf-8' },
  '/assets/addon-fit.js': {
    module: '@xterm/addon-fit/lib/addon-fit.js',
    type: 'text/javascript; charset=utf-8',
  },
};

/** Registers the terminal assets on `app` (each file is read on first request, then kept). */
export function terminalAssetRoutes(app: Hono): void {
  const cache = new Map<string, Buffer>();
  for (const [path, file] of Object.entries(FILES)) {
    app.get(path, (c) => {
      let body = cache.get(path);
      if (!body) {
        body = readFileSync(require.resolve(file.module));
        cache.set(path, body);
      }
      c.header('Cache-Control', 'private, max-age=3600');
      return c.body(new Uint8Array(body), 200, { 'Content-Type': file.type });
    });
  }
  app.get('/assets/terminal.js', (c) => {
    c.header('Cache-Control', 'private, max-age=300');
    return c.body(TERMINAL_JS, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });
}
