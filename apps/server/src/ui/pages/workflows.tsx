/** @jsxImportSource hono/jsx */
/** The configured workflows (`/workflows`) with their dry-run and run buttons. */
import type { WorkflowView } from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import { Layout, type PageContext, RunButtons } from '../components.js';
import { html, type UiApp, type UiContext } from '../context.js';

export const WorkflowsPage: FC<{ ctx: PageContext; workflows: WorkflowView[]; backends: string[] }> = (p) => {
  const configured = p.workflows.filter((w) => w.kind === 'workflow');
  return (
    <Layout title="Workflows" active="/workflows" ctx={p.ctx}>
      <h1>Workflows</h1>
      {configured.length === 0 ? (
        <div class="panel empty">No workflows configured.</div>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Description</th>
              <th>Backend</th>
              <th>Max concurrent</th>
              <th>Git</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {configured.map((w) => (
              <tr data-workflow={w.name}>
                <td>
                  <strong>{w.name}</strong>
                </td>
                <td>{w.description || <span class="muted">—</span>}</td>
                <td>{w.backend}</td>
                <td>{w.maxConcurrent ?? '—'}</td>
                <td class="small">{w.git ? `${w.git.repo}@${w.git.branch}` : '—'}</td>
                <td>
                  <RunButtons
                    ctx={p.ctx}
                    kind="workflow"
                    name={w.name}
                    backend={w.backend}
                    backends={p.backends}
                    git={w.git !== null}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
};

/** Registers `/workflows`. */
export function workflowsRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, backendNames, pageContext: ctxOf } = x;
  ui.get('/workflows', async (c) =>
    c.html(
      await html(
        <WorkflowsPage ctx={ctxOf(c)} workflows={runtime.listWorkflows()} backends={backendNames()} />,
      ),
    ),
  );
}
