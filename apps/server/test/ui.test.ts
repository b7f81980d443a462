import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/index.js';
import { SESSION_COOKIE, sessionValue } from '../src/security.js';
import { STUB_TOKEN, StubRuntime } from './stub-runtime.js';

let rt: StubRuntime;
let app: ReturnType<typeof createApp>;

/** A signed-in browser-ish session: keeps cookies, reads the CSRF token from pages. */
class Session {
  cookies = new Map<string, string>([[SESSION_COOKIE, sessionValue(STUB_TOKEN)]]);
  csrf = '';
  async get(path: string) {
    const res = await app.request(`http://localhost${path}`, { headers: { cookie: this.cookieHeader() } });
    this.store(res);
    const html = await res.text();
    const m = /name="csrf-token" content="([^"]+)"/.exec(html) ?? /name="_csrf" value="([^"]+)"/.exec(html);
    if (m) this.csrf = m[1] as string;
    return { res, html };
  }
  async post(
    path: string,
    form: Record<string, string>,
    opts: { csrf?: string | null; origin?: string } = {},
  ) {
    const body = new URLSearchParams({
      ...form,
      ...(opts.csrf === null ? {} : { _csrf: opts.csrf ?? this.csrf }),
    });
    const res = await app.request(`http://localhost${path}`, {
      method: 'POST',
      headers: {
        cookie: this.cookieHeader(),
        'content-type': 'application/x-www-form-urlencoded',
        origin: opts.origin ?? 'http://localhost',
      },
      body: body.toString(),
    });
    this.store(res);
    return res;
  }
  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  store(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const [k, v] = (kv as string).split('=');
      this.cookies.set(k as string, v as string);
    }
  }
}

beforeEach(() => {
  rt = new StubRuntime();
  app = createApp(rt);
});

describe('pages', () => {
  it('dashboard shows backend cards, jobs and the my-jobs toggle', async () => {
    const s = new Session();
    const id = (await rt.runWorkflow('demo')).run.id;
    rt.setState(id, 'prep', 'running');
    const { res, html } = await s.get('/');
    expect(res.status).toBe(200);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('data-backend="local"');
    expect(html).toContain('6 / 8'); // CPUs idle/total
    expect(html).toContain('someone-else'); // external job
    expect(html).toContain('href="/?mine=1"');
    const mine = await s.get('/?mine=1');
    expect(mine.html).not.toContain('someone-else');
    expect(res.headers.get('set-cookie')).toMatch(/sh_csrf=.*HttpOnly.*SameSite=Strict/);
  });
  it('backend page lists recent commands', async () => {
    const s = new Session();
    const { res, html } = await s.get('/backends/local');
    expect(res.status).toBe(200);
    expect(html).toContain('Recent commands');
    expect(html).toContain('<summary class="mono small">true</summary>');
    expect((await s.get('/backends/nope')).res.status).toBe(404);
  });
  it('workflows, sources, projects and settings render with CSRF-protected forms', async () => {
    const s = new Session();
    for (const [path, needle] of [
      ['/workflows', 'data-workflow="demo"'],
      ['/sources', 'flows/a.json'],
      ['/projects', 'sflow.json'],
      ['/settings', 'settings.auth_token'.split('.')[1] as string],
    ] as const) {
      const { res, html } = await s.get(path);
      expect(res.status, path).toBe(200);
      expect(html, path).toContain(needle);
      expect(html, path).toMatch(
        /<form method="post" action="[^"]+" class="[^"]*"><input type="hidden" name="_csrf" value="[^"]+"/,
      );
    }
  });
  it('dry run shows every generated script and a submit form', async () => {
    const s = new Session();
    await s.get('/workflows');
    const res = await s.post('/ui/dry-run', { kind: 'workflow', name: 'demo' });
    expect(res.status).toBe(200);
    const html = await res.text();
    for (const id of ['prep', 'work.a', 'work.b']) expect(html).toContain(`echo ${id}`);
    expect(html).toContain('Submit this run');
    expect(rt.runs.size).toBe(0);
  });
  it('dry run shows the job arrays the run would start with, or that arrays are off and why', async () => {
    const s = new Session();
    await s.get('/workflows');
    try {
      const plain = await (await s.post('/ui/dry-run', { kind: 'workflow', name: 'demo' })).text();
      expect(plain).not.toContain('Job array');
      rt.dryRunArrays = { mode: 'auto', setBy: 'backend' };
      const on = await (await s.post('/ui/dry-run', { kind: 'workflow', name: 'demo' })).text();
      expect(on).toContain(
        '<dt>Job arrays</dt><dd><ul style="margin:0;padding-left:18px"><li>array 0: 2 tasks <span class="mono small">(work.a … work.b)</span></li><li>1 task(s) submitted one job each</li></ul></dd>',
      );
      expect(on).toContain('array 0, element 1 of 2');
      rt.dryRunArrays = { mode: 'off', setBy: 'workflow' };
      const off = await (await s.post('/ui/dry-run', { kind: 'workflow', name: 'demo' })).text();
      expect(off).toContain('off (the workflow sets array: off): one job per task');
      expect(off).not.toContain('element 1 of 2');
      rt.dryRunArrays = { mode: 'off', setBy: 'backend' };
      const offBackend = await (await s.post('/ui/dry-run', { kind: 'workflow', name: 'demo' })).text();
      expect(offBackend).toContain('off (backend local has array: off): one job per task');
    } finally {
      rt.dryRunArrays = null;
    }
  });
  it('project run form offers branch/commit; they reach the runtime, empty fields do not', async () => {
    const s = new Session();
    const { html } = await s.get('/projects');
    expect(html).toContain('aria-label="branch for proj/sflow.json"');
    expect(html).toContain('aria-label="commit for proj/sflow.json"');
    const sha = 'a'.repeat(40);
    const res = await s.post('/ui/run', {
      kind: 'project',
      name: 'proj',
      file: 'sflow.json',
      branch: ' exp ',
      commit: sha,
    });
    expect(res.status).toBe(303);
    expect(rt.calls).toContain(`git:proj/sflow.json:exp:${sha}`);
    const before = rt.calls.filter((c) => c.startsWith('git:')).length;
    await s.post('/ui/run', { kind: 'project', name: 'proj', file: 'sflow.json', branch: '', commit: '' });
    expect(rt.calls.filter((c) => c.startsWith('git:')).length).toBe(before);
  });
  it('run form starts a run and redirects to its page; run page groups tasks and explains pending', async () => {
    const s = new Session();
    await s.get('/workflows');
    const res = await s.post('/ui/run', { kind: 'workflow', name: 'demo' });
    expect(res.status).toBe(303);
    const id = [...rt.runs.keys()][0] as string;
    expect(res.headers.get('location')).toBe(`/runs/${id}`);
    const { html } = await s.get(`/runs/${id}`);
    expect(html).toContain(`data-live="/live/runs/${id}"`);
    expect(html).toContain('<tr class="group"><td colspan="8">work</td></tr>');
    expect(html).toContain('waiting for its dependency to complete: prep');
    expect(html).toContain('ready; waiting for a free slot');
    const timeline = await s.get(`/runs/${id}?view=timeline`);
    expect(timeline.html).toContain('No task has been submitted yet');
    rt.completeAll(id);
    const done = await s.get(`/runs/${id}?view=timeline`);
    expect(done.html).toContain('class="runbar completed"');
  });
  it('task page shows the log tail, script, json and history', async () => {
    const s = new Session();
    const id = (await rt.runWorkflow('demo')).run.id;
    rt.completeAll(id);
    const log = await s.get(`/runs/${id}/tasks/work.a`);
    expect(log.html).toContain('work.a says hello');
    expect(log.html).toContain(
      `data-follow="/api/v1/runs/${id}/tasks/work.a/log/follow?stream=stdout&amp;offset=18"`,
    );
    expect((await s.get(`/runs/${id}/tasks/work.a?tab=script`)).html).toContain('echo work.a');
    expect((await s.get(`/runs/${id}/tasks/work.a?tab=json`)).html).toContain('&quot;depPatterns&quot;');
    expect((await s.get(`/runs/${id}/tasks/work.a?tab=history`)).html).toContain('pill completed');
    const missing = await s.get(`/runs/${id}/tasks/nope`);
    expect(missing.res.status).toBe(404);
    const bad = await s.get(`/runs/..%2Fx`);
    expect(bad.res.status).toBe(400);
  });
  it('escapes user-controlled text', async () => {
    const s = new Session();
    const id = (await rt.runAdhocTask({ command: 'x', backend: 'local', id: '<img src=x onerror=alert(1)>' }))
      .run.id;
    const { html } = await s.get(`/runs/${id}`);
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('hostile stored data', () => {
  it('renders runs whose task ids hold a lone UTF-16 surrogate (old stored runs) without a 500', async () => {
    const s = new Session();
    const taskId = 'grp\ud800.a';
    const id = (await rt.runAdhocTask({ command: 'x', backend: 'local', id: taskId })).run.id;
    rt.setState(id, taskId, 'running');
    for (const path of [`/runs/${id}`, `/runs/${id}?view=timeline`, '/', '/runs']) {
      const { res, html } = await s.get(path);
      expect(res.status, path).toBe(200);
      if (path !== '/runs') expect(html, path).toContain('grp\ufffd.a'); // shown, without a link
      expect(html, path).not.toContain('/tasks/grp');
    }
    // The live fragments render too (a failing render would silently send nothing).
    const stream = await app.request(`http://localhost/live/runs/${id}`, {
      headers: { cookie: s.cookieHeader() },
    });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!text.includes('event: swap')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    await reader.cancel();
    expect(text).toContain('grp\\ud800.a'); // JSON-escaped in the event data
  });
});

describe('forms are CSRF-protected', () => {
  it('refuses a missing/wrong token or a foreign origin and changes nothing', async () => {
    const s = new Session();
    await s.get('/workflows');
    expect((await s.post('/ui/run', { kind: 'workflow', name: 'demo' }, { csrf: null })).status).toBe(403);
    expect(
      (await s.post('/ui/run', { kind: 'workflow', name: 'demo' }, { csrf: 'x'.repeat(32) })).status,
    ).toBe(403);
    expect(
      (await s.post('/ui/run', { kind: 'workflow', name: 'demo' }, { origin: 'https://evil.example' }))
        .status,
    ).toBe(403);
    const other = new Session();
    await other.get('/');
    // A token from another session is not valid here.
    expect((await s.post('/ui/run', { kind: 'workflow', name: 'demo' }, { csrf: other.csrf })).status).toBe(
      403,
    );
    expect(rt.runs.size).toBe(0);
    expect((await s.post('/ui/settings/reload', {}, { csrf: null })).status).toBe(403);
    expect(rt.calls).not.toContain('reload');
  });
  it('cancel, rerun, delete and sync through forms', async () => {
    const s = new Session();
    await s.get('/runs');
    const id = (await rt.runWorkflow('demo')).run.id;
    const cancel = await s.post(`/ui/runs/${id}/cancel`, {});
    expect(cancel.status).toBe(303);
    expect(rt.getRun(id).status).toBe('cancelled');
    const rerun = await s.post(`/ui/runs/${id}/rerun`, { mode: 'failed' });
    expect(rerun.status).toBe(303);
    expect(rt.runs.size).toBe(2);
    const del = await s.post(`/ui/runs/${id}/delete`, {});
    expect(del.headers.get('location')).toBe('/runs');
    expect(rt.runs.has(id)).toBe(false);
    expect((await s.post('/ui/sources/repo/sync', {})).status).toBe(303);
    expect(rt.calls).toContain('sync:repo');
  });
  it('run page names the rerun modes plainly; in place posts the in-place mode and stays on the run', async () => {
    const s = new Session();
    const id = (await rt.runWorkflow('demo')).run.id;
    const [a, ...rest] = rt.listTasks(id).items;
    rt.setState(id, a!.spec.id, 'failed', { exitCode: 1 });
    for (const t of rest) rt.setState(id, t.spec.id, 'completed');
    const { html } = await s.get(`/runs/${id}`);
    for (const label of [
      'Rerun all as a new run',
      'Rerun failed as a new run',
      'Rerun failed in place',
      'Rerun all in place',
      'Rerun new from the generator',
    ])
      expect(html).toContain(`>${label}</button>`);
    expect(html).toContain('value="in-place-failed"');
    const res = await s.post(`/ui/runs/${id}/rerun`, { mode: 'in-place-failed' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/runs/${id}`);
    expect(rt.calls).toContain(`rerun:${id}:in-place-failed`);
    // an unknown mode is the default (all as a new run), never passed through
    await s.post(`/ui/runs/${id}/rerun`, { mode: 'sideways' });
    expect(rt.calls).toContain(`rerun:${id}:all`);
  });
  it('run page: a cached task shows as cached with its source; Resume reruns with mode resume', async () => {
    const s = new Session();
    const first = (await rt.runWorkflow('demo')).run.id;
    const id = (await rt.runWorkflow('demo')).run.id;
    const [a] = rt.listTasks(id).items;
    rt.setState(id, a!.spec.id, 'completed', {
      exitCode: 0,
      meta: { cached: { runId: first, taskId: a!.spec.id, key: 'k' } },
    });
    for (const t of rt.listTasks(id).items)
      if (t.state !== 'completed') rt.setState(id, t.spec.id, 'completed');
    const { html } = await s.get(`/runs/${id}`);
    expect(html).toMatch(new RegExp(`data-task="${a!.spec.id}" data-state="completed" data-cached="true"`));
    expect(html).toContain('<span class="pill cached"');
    expect(html).toContain(`run ${first} task ${a!.spec.id}</a>`);
    expect(html).toContain('>Resume</button>');
    const res = await s.post(`/ui/runs/${id}/rerun`, { mode: 'resume' });
    expect(res.status).toBe(303);
    expect(rt.calls).toContain(`rerun:${id}:resume`);
  });
  it('settings: Save & reload writes nothing on errors, else saves (LF kept) and shows what applied', async () => {
    rt.configSource = { kind: 'file', path: '/tmp/stub/scripthut.yaml' };
    const s = new Session();
    const { html } = await s.get('/settings');
    expect(html).toContain('formaction="/ui/settings/save"');
    expect(html).toContain('aria-label="configuration">\n'); // the parser drops this newline, not the text's
    const baseHash = /name="baseHash" value="([0-9a-f]{64})"/.exec(html)?.[1] as string;
    const bad = await s.post('/ui/settings/save', { text: 'bad: true', baseHash });
    expect(bad.status).toBe(422);
    const badHtml = await bad.text();
    expect(badHtml).toContain('backends[0].type');
    expect(badHtml).toContain('nothing was saved');
    expect(badHtml).toContain('bad: true'); // the edit is kept in the editor
    expect(rt.saved).toEqual([]);
    const ok = await s.post('/ui/settings/save', {
      text: '# mine\r\nsettings:\r\n  poll_interval: 30\r\n',
      baseHash,
    });
    expect(ok.status).toBe(200);
    const okHtml = await ok.text();
    expect(okHtml).toContain('Saved.');
    expect(okHtml).toContain('/tmp/stub/scripthut.yaml.bak');
    expect(okHtml).toContain('Applied live: settings.poll_interval');
    expect(okHtml).toContain('Needs a restart: settings.server_port');
    expect(rt.saved).toEqual(['# mine\nsettings:\n  poll_interval: 30\n']);
  });
  it('settings on the embedded default: no Save, and how to start with a file', async () => {
    const s = new Session();
    const { html } = await s.get('/settings');
    expect(html).not.toContain('formaction="/ui/settings/save"');
    expect(html).toContain('--config PATH');
    const res = await s.post('/ui/settings/save', { text: 'settings: {}', baseHash: 'x' });
    expect(res.status).toBe(409);
    expect(rt.saved).toEqual([]);
  });
  it('settings: validate shows issues, reload shows live/restart classification', async () => {
    const s = new Session();
    await s.get('/settings');
    const bad = await s.post('/ui/settings/validate', { text: 'bad: true' });
    expect(bad.status).toBe(422);
    const html = await bad.text();
    expect(html).toContain('backends[0].type');
    expect(html).toContain('line 2');
    const reload = await (await s.post('/ui/settings/reload', {})).text();
    expect(reload).toContain('Applied live: settings.poll_interval');
    expect(reload).toContain('Needs a restart: settings.server_port');
  });
});

describe('assets', () => {
  it('serves the script from memory as JavaScript', async () => {
    const res = await app.request('/assets/app.js', { headers: { authorization: `Bearer ${STUB_TOKEN}` } });
    expect(res.headers.get('content-type')).toContain('text/javascript');
    expect(await res.text()).toContain('EventSource');
  });
});
