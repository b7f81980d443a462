/** @jsxImportSource hono/jsx */
/** The settings page (`/settings`): the config text, validation with positions, reload. */
import { type Issue, ScriptHutError } from '@scripthut/core';
import type { ConfigReloadResult } from '@scripthut/runtime';
import type { Context } from 'hono';
import type { FC } from 'hono/jsx';
import { Form, IssueList, Layout, type PageContext } from '../components.js';
import { formString, html, type UiApp, type UiContext, type UiEnv } from '../context.js';

export const SettingsPage: FC<{
  ctx: PageContext;
  view: { source: string; text: string | null; config: unknown };
  text: string;
  validation: { issues: Issue[]; warnings: Issue[] } | null;
  reload: ConfigReloadResult | null;
  message: string | null;
}> = (p) => (
  <Layout title="Settings" active="/settings" ctx={p.ctx}>
    <h1>Settings</h1>
    <div class="panel">
      <dl class="kv">
        <dt>Config</dt>
        <dd class="mono small">{p.view.source}</dd>
      </dl>
    </div>
    {p.message ? <div class="notice">{p.message}</div> : null}
    {p.reload ? (
      <div class={`notice ${p.reload.applied ? 'ok' : 'bad'}`}>
        <strong>{p.reload.applied ? 'Config reloaded.' : 'Config not reloaded.'}</strong>
        {p.reload.live.length ? <div>Applied live: {p.reload.live.join(', ')}</div> : null}
        {p.reload.restart.length ? <div>Needs a restart: {p.reload.restart.join(', ')}</div> : null}
        <IssueList issues={p.reload.issues} />
      </div>
    ) : null}
    {p.validation ? (
      p.validation.issues.length === 0 ? (
        <div class="notice ok">
          The configuration is valid.
          <IssueList issues={p.validation.warnings} />
        </div>
      ) : (
        <div class="notice bad">
          <strong>{p.validation.issues.length} problem(s):</strong>
          <IssueList issues={[...p.validation.issues, ...p.validation.warnings]} />
        </div>
      )
    ) : null}
    <Form action="/ui/settings/validate" ctx={p.ctx} class="panel">
      <h3>Configuration (YAML)</h3>
      <p class="muted small">
        Validate checks the text without saving it. Secrets are shown as ***. Edit the file on disk, then
        reload.
      </p>
      <textarea name="text" spellcheck={false}>
        {p.text}
      </textarea>
      <div class="actions" style="margin-top:8px">
        <button type="submit">Validate</button>
      </div>
    </Form>
    <Form action="/ui/settings/reload" ctx={p.ctx} class="panel">
      <div class="actions">
        <button type="submit" class="primary">
          Reload config from disk
        </button>
        <span class="muted small">Settings that cannot change live are listed as “needs a restart”.</span>
      </div>
    </Form>
    <h2>Effective configuration</h2>
    <pre class="light">{JSON.stringify(p.view.config, null, 2)}</pre>
  </Layout>
);

/** Registers `/settings` and its validate / reload actions. */
export function settingsRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, pageContext: ctxOf } = x;
  const settingsPage = async (
    c: Context<UiEnv>,
    extra: {
      text?: string;
      validation?: { issues: Issue[]; warnings: Issue[] } | null;
      reload?: ConfigReloadResult | null;
      message?: string | null;
      status?: number;
    },
  ) => {
    const view = runtime.configView();
    const text =
      extra.text ?? view.text ?? '# The built-in default configuration is in use (no config file).\n';
    const validation =
      extra.validation !== undefined
        ? extra.validation
        : view.text
          ? runtime.validateConfigText(view.text)
          : null;
    return c.html(
      await html(
        <SettingsPage
          ctx={ctxOf(c)}
          view={view}
          text={text}
          validation={validation}
          reload={extra.reload ?? null}
          message={extra.message ?? null}
        />,
      ),
      (extra.status ?? 200) as 200,
    );
  };
  ui.get('/settings', (c) => settingsPage(c, {}));
  ui.post('/ui/settings/validate', async (c) => {
    const text = (await formString(c, 'text')) ?? '';
    if (text.length > 2_000_000) throw new ScriptHutError('validation_failed', 'config text too large');
    const validation = runtime.validateConfigText(text);
    return settingsPage(c, { text, validation, status: validation.issues.length ? 422 : 200 });
  });
  ui.post('/ui/settings/reload', async (c) => {
    const reload = await runtime.reloadConfig();
    return settingsPage(c, { reload });
  });
}
