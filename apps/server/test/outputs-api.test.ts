import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/index.js';
import { StubRuntime } from './stub-runtime.js';
import { tokenClient } from './with-token.js';

let rt: StubRuntime;
let app: ReturnType<typeof tokenClient<ReturnType<typeof createApp>>>;
let runId: string;
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

beforeEach(async () => {
  rt = new StubRuntime();
  app = tokenClient(createApp(rt, { version: '9.9.9' }));
  runId = (await rt.runWorkflow('demo')).run.id;
  rt.outputs.set(`${runId}/prep`, {
    files: { 'plot.png': PNG, 'page.html': Buffer.from('<script>alert(1)</script>') },
    taskSummary: '# Prep\n\n![p](plot.png)',
    runSummary: 'prep: **ok**',
  });
});

describe('task outputs API', () => {
  it('lists the recorded outputs with their kinds', async () => {
    const res = await app.request(`/api/v1/runs/${runId}/tasks/prep/outputs`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; files: { path: string; kind: string }[] };
    expect(body.status).toBe('listed');
    expect(body.files.map((f) => [f.path, f.kind])).toEqual([
      ['plot.png', 'image'],
      ['page.html', 'other'],
    ]);
  });

  it('serves an image inline and anything else as a sandboxed attachment', async () => {
    const img = await app.request(`/api/v1/runs/${runId}/tasks/prep/outputs/file?path=plot.png`);
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/png');
    expect(img.headers.get('content-disposition')).toMatch(/^inline/);
    expect(Buffer.from(await img.arrayBuffer()).equals(PNG)).toBe(true);
    const html = await app.request(`/api/v1/runs/${runId}/tasks/prep/outputs/file?path=page.html`);
    expect(html.headers.get('content-type')).toBe('application/octet-stream');
    expect(html.headers.get('content-disposition')).toMatch(/^attachment; filename="page.html"/);
    expect(html.headers.get('content-security-policy')).toContain('sandbox');
    expect(html.headers.get('x-content-type-options')).toBe('nosniff');
    const dl = await app.request(`/api/v1/runs/${runId}/tasks/prep/outputs/file?path=plot.png&download=1`);
    expect(dl.headers.get('content-disposition')).toMatch(/^attachment/);
  });

  it('refuses unrecorded paths and a missing path parameter', async () => {
    const res = await app.request(
      `/api/v1/runs/${runId}/tasks/prep/outputs/file?path=..%2F..%2Fetc%2Fpasswd`,
    );
    expect(res.status).toBe(404);
    expect((await app.request(`/api/v1/runs/${runId}/tasks/prep/outputs/file`)).status).toBe(400);
  });

  it('returns the run summary fragments', async () => {
    const res = await app.request(`/api/v1/runs/${runId}/summary`);
    expect(await res.json()).toMatchObject({
      available: true,
      fragments: [{ taskId: 'prep', text: 'prep: **ok**' }],
    });
  });

  it('needs a credential', async () => {
    const bare = createApp(rt, { version: '9.9.9' });
    const res = await bare.request(`/api/v1/runs/${runId}/tasks/prep/outputs/file?path=plot.png`);
    expect(res.status).toBe(401);
  });
});
