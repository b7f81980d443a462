/** @jsxImportSource hono/jsx */
/** One backend (`/backends/:name`): status, partitions and its recent remote commands. */
import type { BackendDetail } from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import { nameSchema } from '../../schemas.js';
import { BackendCards, fmtTime, Layout, type PageContext, Section } from '../components.js';
import { html, parseOr400, type UiApp, type UiContext } from '../context.js';

export const BackendPage: FC<{ ctx: PageContext; backend: BackendDetail }> = ({ ctx, backend }) => (
  <Layout title={`Backend ${backend.name}`} active="/" ctx={ctx}>
    <h1>
      Backend {backend.name} <span class="muted small">{backend.type}</span>
    </h1>
    <BackendCards backends={[backend]} />
    {backend.type === 'slurm' || backend.type === 'pbs' ? (
      <p>
        <a class="button" id="open-terminal" href={`/backends/${encodeURIComponent(backend.name)}/terminal`}>
          Open a terminal
        </a>{' '}
        <a class="small" href="/terminals">
          open terminals
        </a>
      </p>
    ) : null}
    {backend.clusterInfo && backend.clusterInfo.partitions.length > 0 ? (
      <Section title="Partitions">
        <table>
          <thead>
            <tr>
              <th>Partition</th>
              <th>State</th>
              <th>CPUs idle / total</th>
              <th>Nodes</th>
              <th>GPUs idle / total</th>
              <th>Time limit</th>
            </tr>
          </thead>
          <tbody>
            {backend.clusterInfo.partitions.map((p) => (
              <tr>
                <td>
                  {p.name}
                  {p.isDefault ? <span class="muted small"> (default)</span> : null}
                </td>
                <td>{p.state ?? '—'}</td>
                <td>{`${p.cpusIdle} / ${p.cpusTotal}`}</td>
                <td>{p.nodes ?? '—'}</td>
                <td>{p.gpusTotal ? `${p.gpusIdle ?? '?'} / ${p.gpusTotal}` : '—'}</td>
                <td>{p.timeLimit ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    ) : null}
    <Section title="Recent commands">
      {backend.commandLog.length === 0 ? (
        <div class="panel empty">No remote commands recorded.</div>
      ) : (
        <table>
          <thead>
            <tr>
              <th>At</th>
              <th>Command</th>
              <th>Exit</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {[...backend.commandLog].reverse().map((e) => (
              <tr>
                <td class="small">{fmtTime(e.at)}</td>
                <td>
                  <details>
                    <summary class="mono small">
                      {e.command.length > 140 ? `${e.command.slice(0, 140)}…` : e.command}
                    </summary>
                    {e.stdout ? <pre>{e.stdout}</pre> : null}
                    {e.stderr ? <pre>{e.stderr}</pre> : null}
                  </details>
                </td>
                <td>{e.exitCode ?? '—'}</td>
                <td>{e.durationMs} ms</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  </Layout>
);

/** Registers `/backends/:name`. */
export function backendRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, pageContext: ctxOf } = x;
  ui.get('/backends/:name', async (c) => {
    const name = parseOr400(nameSchema, c.req.param('name'), 'backend name');
    return c.html(await html(<BackendPage ctx={ctxOf(c)} backend={runtime.getBackend(name)} />));
  });
}
