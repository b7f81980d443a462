/** @jsxImportSource hono/jsx */
/**
 * The settings page (`/settings`): the config file's text in an editor. Validate shows the loader's
 * positioned errors; Save & reload validates the same way, writes nothing on an error, else writes the
 * text as typed (comments and layout kept) after a timestamped backup, then reloads and says what
 * applied live and what needs a restart. Secrets are shown as `***` and kept when saved.
 */
import { type Issue, ScriptHutError } from '@scripthut/core';
import { type ConfigReloadResult, type ConfigSaveResult, configTextHash } from '@scripthut/runtime';
import type { Context } from 'hono';
import type { FC } from 'hono/jsx';
import { Form, IssueList, Layout, type PageContext } from '../components.js';
import { formString, html, type UiApp, type UiContext, type UiEnv } from '../context.js';

const ReloadNotice: FC<{ reload: ConfigReloadResult }> = ({ reload }) => (
  <>
    {reload.live.length ? <div>Applied live: {reload.live.join(', ')}</div> : null}
    {reload.restart.length ? <div>Needs a restart: {reload.restart.join(', ')}</div> : null}
    {reload.applied && !reload.live.length && !reload.restart.length ? <div>Nothing changed.</div> : null}
    <IssueList issues={reload.issues} />
  </>
);

export interface SettingsView {
  source: string;
  /** The file's text (secrets as `***`); null on the embedded default. */
  text: string | null;
  config: unknown;
}

export const SettingsPage: FC<{
  ctx: PageContext;
  view: SettingsView;
  /** True when a config file is in use (it can be saved). */
  fromFile: boolean;
  text: string;
  /** SHA-256 of the text the editor started from (the save refuses if the file changed since). */
  baseHash: string;
  validation: { issues: Issue[]; warnings: Issue[] } | null;
  reload: ConfigReloadResult | null;
  saved: ConfigSaveResult | null;
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
    {p.fromFile ? null : (
      <div class="notice" data-default-config>
        ScriptHut runs on its built-in default configuration: there is no file to save. To change it, save
        this text as <code>scripthut.yaml</code> in the directory you start ScriptHut from (or anywhere, and
        start with <code>--config PATH</code>), edit it, then restart ScriptHut.
      </div>
    )}
    {p.message ? (
      <div class="notice bad" data-settings-message>
        {p.message}
      </div>
    ) : null}
    {p.saved?.saved ? (
      <div class="notice ok" data-saved>
        <strong>Saved.</strong> The previous file is kept as <code>{p.saved.backupPath}</code>.
        {p.saved.reload ? <ReloadNotice reload={p.saved.reload} /> : null}
      </div>
    ) : null}
    {p.reload ? (
      <div class={`notice ${p.reload.applied ? 'ok' : 'bad'}`} data-reloaded>
        <strong>{p.reload.applied ? 'Config reloaded.' : 'Config not reloaded.'}</strong>
        <ReloadNotice reload={p.reload} />
      </div>
    ) : null}
    {p.validation ? (
      p.validation.issues.length === 0 ? (
        <div class="notice ok" data-valid>
          The configuration is valid.
          <IssueList issues={p.validation.warnings} />
        </div>
      ) : (
        <div class="notice bad" data-invalid>
          <strong>
            {p.validation.issues.length} problem(s){p.fromFile ? '; nothing was saved' : ''}:
          </strong>
          <IssueList issues={[...p.validation.issues, ...p.validation.warnings]} />
        </div>
      )
    ) : null}
    <Form action="/ui/settings/validate" ctx={p.ctx} class="panel">
      <h3>Configuration (YAML)</h3>
      <p class="muted small">
        Validate checks the text without saving it. Save &amp; reload validates it the same way, writes it as
        typed (comments kept) after a timestamped backup of the file, and reloads. Secrets are shown as ***
        and kept unless you replace them.
      </p>
      <input type="hidden" name="baseHash" value={p.baseHash} />
      {/* The newline after <textarea> is dropped by the HTML parser; without it a leading one would be. */}
      <textarea name="text" spellcheck={false} aria-label="configuration">
        {`\n${p.text}`}
      </textarea>
      <div class="actions" style="margin-top:8px">
        <button type="submit">Validate</button>
        {p.fromFile ? (
          <button type="submit" class="primary" formaction="/ui/settings/save">
            Save &amp; reload
          </button>
        ) : null}
      </div>
    </Form>
    <Form action="/ui/settings/reload" ctx={p.ctx} class="panel">
      <div class="actions">
        <button type="submit">Reload config from disk</button>
        <span class="muted small">Settings that cannot change live are listed as “needs a restart”.</span>
      </div>
    </Form>
    <h2>Effective configuration</h2>
    <pre class="light">{JSON.stringify(p.view.config, null, 2)}</pre>
  </Layout>
);

/** Browsers submit textarea lines with CRLF: keep the file's own line endings. */
function submittedText(raw: string | undefined, fileText: string | null): string {
  const text = raw ?? '';
  return fileText?.includes('\r\n') ? text : text.replace(/\r\n/g, '\n');
}

/** Registers `/settings` and its validate / save / reload actions. */
export function settingsRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, pageContext: ctxOf } = x;
  const fromFile = () => runtime.configSource.kind === 'file';

  const page = async (
    c: Context<UiEnv>,
    extra: {
      text?: string;
      baseHash?: string;
      validation?: { issues: Issue[]; warnings: Issue[] } | null;
      reload?: ConfigReloadResult | null;
      saved?: ConfigSaveResult | null;
      message?: string | null;
      status?: 200 | 409 | 422;
    },
  ) => {
    const view = runtime.configView();
    const text =
      extra.text ?? view.text ?? '# The built-in default configuration is in use (no config file).\n';
    const validation =
      extra.validation !== undefined
        ? extra.validation
        : view.text && fromFile()
          ? await runtime.saveConfigText(view.text, { dryRun: true })
          : null;
    return c.html(
      await html(
        <SettingsPage
          ctx={ctxOf(c)}
          view={view}
          fromFile={fromFile()}
          text={text}
          baseHash={extra.baseHash ?? configTextHash(view.text ?? '')}
          validation={validation ? { issues: validation.issues, warnings: validation.warnings } : null}
          reload={extra.reload ?? null}
          saved={extra.saved ?? null}
          message={extra.message ?? null}
        />,
      ),
      extra.status ?? 200,
    );
  };

  ui.get('/settings', (c) => page(c, {}));

  ui.post('/ui/settings/validate', async (c) => {
    const text = submittedText(await formString(c, 'text'), runtime.configView().text);
    const baseHash = (await formString(c, 'baseHash')) ?? '';
    const validation = fromFile()
      ? await runtime.saveConfigText(text, { dryRun: true })
      : runtime.validateConfigText(text);
    return page(c, { text, baseHash, validation, status: validation.issues.length ? 422 : 200 });
  });

  ui.post('/ui/settings/save', async (c) => {
    const text = submittedText(await formString(c, 'text'), runtime.configView().text);
    const baseHash = (await formString(c, 'baseHash')) ?? '';
    if (!fromFile())
      return page(c, {
        text,
        baseHash,
        validation: null,
        message: 'There is no config file to save to (the built-in default is in use).',
        status: 409,
      });
    let saved: ConfigSaveResult;
    try {
      saved = await runtime.saveConfigText(text, { baseHash });
    } catch (e) {
      if (ScriptHutError.is(e) && e.code === 'conflict')
        return page(c, { text, baseHash, validation: null, message: e.message, status: 409 });
      throw e;
    }
    if (!saved.saved) return page(c, { text, baseHash, validation: saved, status: 422 });
    return page(c, { saved, validation: null });
  });

  ui.post('/ui/settings/reload', async (c) => page(c, { reload: await runtime.reloadConfig() }));
}
