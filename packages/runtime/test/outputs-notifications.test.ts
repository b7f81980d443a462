/**
 * Task outputs and run notifications end to end on the real runtime (SQLite store, local backend,
 * real bash jobs): a task writes a PNG, a task summary and a run-summary fragment; the engine lists
 * them once after the task ended; the file is read back byte for byte; only recorded paths can be
 * read. A webhook receiver on 127.0.0.1 gets exactly one POST per finished run, also across a
 * restart, and a failing receiver is retried.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunSummary } from '@scripthut/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type NotificationEvent, type Runtime } from '../src/index.js';

export const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

const opened: Runtime[] = [];
const servers: Server[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
  while (servers.length) await new Promise((r) => servers.pop()!.close(r));
});

interface Received {
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

/** A webhook receiver on 127.0.0.1 answering `status()` (200 by default). */
async function receiver(status: () => number = () => 200): Promise<{ url: string; posts: Received[] }> {
  const posts: Received[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => {
      if (req.method === 'POST') posts.push({ body: JSON.parse(data), headers: req.headers });
      res.statusCode = status();
      res.end('ok');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://hook:s3cret@127.0.0.1:${port}/hooks/T000/B000/XXXXSECRET`, posts };
}

function setup(notifyUrl: string | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-outputs-'));
  const wf = `outputs-test-${Date.now().toString(36)}`;
  const task = {
    id: 'plot',
    name: 'plot',
    command: [
      `printf '%s' '${PNG_1X1.toString('base64')}' | base64 -d >"$SCRIPTHUT_OUTPUT_DIR/plot.png"`,
      'mkdir -p "$SCRIPTHUT_OUTPUT_DIR/data" && echo a,b >"$SCRIPTHUT_OUTPUT_DIR/data/table.csv"',
      `printf '# Fit\\n\\n![plot](plot.png)\\n\\n<script>alert(1)</script>\\n' >"$SCRIPTHUT_TASK_SUMMARY"`,
      `printf '**plot**: r2 = 0.93\\n' >"$SCRIPTHUT_RUN_SUMMARY"`,
    ].join('\n'),
  };
  writeFileSync(
    join(dir, 'tasks.json'),
    JSON.stringify({ tasks: [task, { id: 'bad', name: 'bad', command: 'exit 3' }] }),
  );
  writeFileSync(
    join(dir, 'scripthut.yaml'),
    `backends:
  - name: laptop
    type: local
workflows:
  - { name: ${wf}, backend: laptop, command: "cat ${join(dir, 'tasks.json')}" }
${notifyUrl ? `settings:\n  notify_url: "${notifyUrl}"\n` : ''}`,
  );
  return dir;
}

const logs: string[] = [];
async function open(dir: string): Promise<Runtime> {
  const rt = await createRuntime({
    cwd: dir,
    dataDir: join(dir, 'data'),
    pollIntervalMs: 200,
    logger: { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) },
  });
  opened.push(rt);
  await rt.start();
  return rt;
}

async function until<T>(what: string, fn: () => T | null | undefined | false, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const finished = (rt: Runtime, id: string) => () => {
  const s = rt.getRun(id);
  return s.status !== 'pending' && s.status !== 'running' ? s : null;
};

describe('task outputs on the local backend (real jobs)', () => {
  it('records the files and summaries once the task ended; reads back a recorded file only', async () => {
    const dir = setup(null);
    const rt = await open(dir);
    const wf = rt.listWorkflows()[0]!.name;
    const run = await rt.runWorkflow(wf);
    await until('run end', finished(rt, run.run.id));
    const view = await until('listing', () => {
      const v = rt.taskOutputs(run.run.id, 'plot');
      return v.status === 'listed' ? v : null;
    });
    expect(view.files.map((f) => [f.path, f.kind])).toEqual([
      ['data/table.csv', 'text'],
      ['plot.png', 'image'],
      ['task-summary.md', 'markdown'],
    ]);
    expect(view.taskSummary?.text).toContain('![plot](plot.png)');
    const png = await rt.readTaskOutputFile(run.run.id, 'plot', 'plot.png');
    expect(png.data.equals(PNG_1X1)).toBe(true);
    expect(png.contentType).toBe('image/png');
    // only recorded paths: traversal and unrecorded files are refused, whatever exists on disk
    await expect(rt.readTaskOutputFile(run.run.id, 'plot', '../../../../../../etc/passwd')).rejects.toThrow(
      /invalid output path/,
    );
    await expect(rt.readTaskOutputFile(run.run.id, 'plot', 'data')).rejects.toThrow(/no recorded output/);
    expect(rt.runSummary(run.run.id).fragments).toEqual([
      { taskId: 'plot', text: '**plot**: r2 = 0.93\n', truncated: false },
    ]);
    // the failed task has an (empty) output directory, recorded as such
    const bad = await until('bad listing', () => {
      const v = rt.taskOutputs(run.run.id, 'bad');
      return v.status === 'listed' ? v : null;
    });
    expect(bad).toMatchObject({ missing: false, files: [] });
  });
});

describe('webhook notifications (receiver on 127.0.0.1)', () => {
  it('sends exactly one POST per finished run, never again after a restart, no secret logged', async () => {
    const hook = await receiver();
    const dir = setup(hook.url);
    let rt = await open(dir);
    const toasts: NotificationEvent[] = [];
    rt.events.on('notification', (e) => toasts.push(e));
    const wf = rt.listWorkflows()[0]!.name;
    const first = await rt.runWorkflow(wf);
    const s1 = (await until('run 1 end', finished(rt, first.run.id))) as RunSummary;
    await until('POST 1', () => hook.posts.length >= 1);
    expect(hook.posts[0]!.body).toMatchObject({
      event: 'run.finished',
      runId: first.run.id,
      workflow: wf,
      backend: 'laptop',
      status: 'failed',
      counts: { completed: 1, failed: 1, total: 2 },
    });
    expect(hook.posts[0]!.body.durationMs).toEqual(expect.any(Number));
    expect(hook.posts[0]!.headers['x-scripthut-delivery']).toBe(first.run.id);
    expect(hook.posts[0]!.headers.authorization).toBe(
      `Basic ${Buffer.from('hook:s3cret').toString('base64')}`,
    );
    expect(s1.status).toBe('failed');
    // UI notifications: the failed task and the finished run, once each
    await until('toasts', () => toasts.length >= 2);
    expect(toasts.map((t) => t.kind).sort()).toEqual(['run_done', 'task_failed']);

    const second = await rt.runWorkflow(wf);
    await until('run 2 end', finished(rt, second.run.id));
    await until('POST 2', () => hook.posts.length >= 2);

    await rt.close();
    opened.length = 0;
    rt = await open(dir);
    const third = await rt.runWorkflow(wf);
    await until('run 3 end', finished(rt, third.run.id));
    await until('POST 3', () => hook.posts.length >= 3);
    // one more delivery scan after the restart: nothing old is sent again
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.posts.map((p) => p.body.runId)).toEqual([first.run.id, second.run.id, third.run.id]);
    const text = JSON.stringify(hook.posts.map((p) => p.body)) + logs.join('\n');
    expect(logs.join('\n')).not.toContain('webhook to'); // no failure on the way
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('XXXXSECRET');
    expect(JSON.stringify(rt.configView())).not.toContain('XXXXSECRET');
  });

  it('retries a failing receiver with backoff and records the delivery once it answers 2xx', async () => {
    let calls = 0;
    const hook = await receiver(() => (++calls === 1 ? 500 : 200));
    const dir = setup(hook.url);
    const rt = await open(dir);
    const run = await rt.runWorkflow(rt.listWorkflows()[0]!.name);
    await until('run end', finished(rt, run.run.id));
    await until('delivered', () => hook.posts.length >= 2, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.posts.map((p) => p.body.runId)).toEqual([run.run.id, run.run.id]);
    expect(
      logs.some((l) =>
        /webhook to http:\/\/127\.0\.0\.1:\d+ for run .* failed \(attempt 1\/8\): HTTP 500/.test(l),
      ),
    ).toBe(true);
  });
});
