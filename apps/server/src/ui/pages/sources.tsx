/** @jsxImportSource hono/jsx */
/** Workflow sources (`/sources`): sync status, discovered workflow files, the sync action. */
import type { SourceView } from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import { nameSchema } from '../../schemas.js';
import {
  Form,
  fmtTime,
  IssueList,
  Layout,
  type PageContext,
  RunButtons,
  uriComponent,
} from '../components.js';
import { html, parseOr400, type UiApp, type UiContext } from '../context.js';

export const SourcesPage: FC<{ ctx: PageContext; sources: SourceView[]; backends: string[] }> = (p) => (
  <Layout title="Sources" active="/sources" ctx={p.ctx}>
    <h1>Sources</h1>
    {p.sources.length === 0 ? <div class="panel empty">No sources configured.</div> : null}
    {p.sources.map((s) => (
      <div class="panel">
        <div class="toolbar">
          <h3>
            {s.name} <span class="muted small">{s.type}</span>
          </h3>
          {uriComponent(s.name) === null ? null : (
            <Form action={`/ui/sources/${uriComponent(s.name)}/sync`} ctx={p.ctx}>
              <button type="submit">Sync</button>
            </Form>
          )}
        </div>
        <dl class="kv">
          <dt>Location</dt>
          <dd class="mono small">{s.location}</dd>
          <dt>Branch</dt>
          <dd>{s.branch ?? '—'}</dd>
          <dt>Commit</dt>
          <dd class="mono small">{s.commit ?? '—'}</dd>
          <dt>Last sync</dt>
          <dd>{fmtTime(s.lastSyncAt)}</dd>
          <dt>Backend</dt>
          <dd>{s.backend}</dd>
        </dl>
        {s.error ? <div class="notice bad">{s.error}</div> : null}
        <IssueList issues={s.warnings} />
        {s.workflows.length === 0 ? (
          <p class="muted">No workflow files found.</p>
        ) : (
          <table style="margin-top:10px">
            <tbody>
              {s.workflows.map((w) => (
                <tr>
                  <td class="mono">{w.file ?? w.name}</td>
                  <td>{w.description}</td>
                  <td>
                    <RunButtons
                      ctx={p.ctx}
                      kind="source"
                      name={w.name}
                      target={s.name}
                      file={w.file ?? w.name}
                      backend={s.backend}
                      backends={p.backends}
                      git={s.type === 'git'}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    ))}
  </Layout>
);

/** Registers `/sources` and `POST /ui/sources/:name/sync`. */
export function sourcesRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, backendNames, pageContext: ctxOf } = x;
  ui.get('/sources', async (c) =>
    c.html(
      await html(<SourcesPage ctx={ctxOf(c)} sources={runtime.listSources()} backends={backendNames()} />),
    ),
  );
  ui.post('/ui/sources/:name/sync', async (c) => {
    const name = parseOr400(nameSchema, c.req.param('name'), 'source name');
    await runtime.syncSource(name);
    return c.redirect('/sources', 303);
  });
}
