/**
 * The request body limit on a real server process: a 256 MiB chunked body (no Content-Length) to
 * /login and to an API route gets 413, and the server's peak RSS (VmHWM in /proc/<pid>/status,
 * reset before each upload) grows by less than the 1 MiB limit plus a small margin.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { procStatusBytes, type ServerProcess, startServerProcess } from './server-process.js';

const MiB = 1024 * 1024;
const LIMIT = MiB;
/** Socket buffers, the response, and allocator/GC slack; the body itself must not be held. */
const MARGIN = 16 * MiB;
const UPLOAD = 256 * MiB;

let dir: string;
let server: ServerProcess;
let token: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sh-body-limit-'));
  server = await startServerProcess(join(dir, 'data'));
  token = readFileSync(join(dir, 'data', 'auth_token'), 'utf8').trim();
});
afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Streams `total` bytes as a chunked body until the server answers; resolves with its status. */
function upload(
  path: string,
  headers: Record<string, string>,
  total: number,
): Promise<{ status: number; sent: number }> {
  const url = new URL(path, server.url);
  const chunk = Buffer.alloc(MiB, 'a');
  return new Promise((resolve, reject) => {
    let sent = 0;
    let status = 0;
    let answered = false;
    const req = request(
      { hostname: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers, agent: false },
      (res) => {
        answered = true;
        status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => resolve({ status, sent }));
      },
    );
    req.on('error', (e) => (answered ? resolve({ status, sent }) : reject(e)));
    // Like a careful client (curl with Expect: 100-continue), pause once well past the limit to
    // give an early answer room to arrive: a server that answers early is cut off here, and one
    // that buffers the body gets it all after the pause. Without the pause, a client on a busy
    // machine can still be writing when the server, done waiting, resets the connection (the
    // answer is then lost with the reset and the write fails with EPIPE).
    let paused = false;
    const pump = () => {
      while (!answered && sent < total) {
        if (!paused && sent >= 4 * LIMIT) {
          paused = true;
          const resume = setTimeout(pump, 5_000);
          req.once('response', () => clearTimeout(resume));
          return;
        }
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

async function peakGrowthDuring(fn: () => Promise<unknown>): Promise<number> {
  const before = await procStatusBytes(server.pid, 'VmRSS');
  writeFileSync(`/proc/${server.pid}/clear_refs`, '5'); // VmHWM := current RSS
  await fn();
  return (await procStatusBytes(server.pid, 'VmHWM')) - before;
}

describe('request body limit on a real server process', () => {
  it('413 for a 256 MiB chunked form body to /login, without the server holding it', async () => {
    // Warm up the code paths (first requests compile and allocate lazily).
    for (let i = 0; i < 3; i++)
      await upload('/login', { 'content-type': 'application/x-www-form-urlencoded' }, 4 * MiB);
    let result = { status: 0, sent: 0 };
    const growth = await peakGrowthDuring(async () => {
      result = await upload('/login', { 'content-type': 'application/x-www-form-urlencoded' }, UPLOAD);
    });
    expect(result.status).toBe(413);
    expect(result.sent).toBeLessThan(UPLOAD); // cut off, not read to the end
    expect(growth, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(LIMIT + MARGIN);
  });

  it('413 for a 256 MiB chunked JSON body to an API route, signed in', async () => {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    let result = { status: 0, sent: 0 };
    const growth = await peakGrowthDuring(async () => {
      result = await upload('/api/v1/tasks/run', headers, UPLOAD);
    });
    expect(result.status).toBe(413);
    expect(result.sent).toBeLessThan(UPLOAD);
    expect(growth, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(LIMIT + MARGIN);
  });
});
