/** @jsxImportSource hono/jsx */
/** Projects (`/projects`): each project's sflow.json workflows. */
import type { ProjectView, WorkflowView } from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import { Layout, type PageContext, RunButtons } from '../components.js';
import { html, type UiApp, type UiContext } from '../context.js';

export const ProjectsPage: FC<{
  ctx: PageContext;
  projects: { project: ProjectView; workflows: WorkflowView[]; error: string | null }[];
  backends: string[];
}> = (p) => (
  <Layout title="Projects" active="/projects" ctx={p.ctx}>
    <h1>Projects</h1>
    {p.projects.length === 0 ? <div class="panel empty">No projects configured.</div> : null}
    {p.projects.map(({ project, workflows, error }) => (
      <div class="panel">
        <h3>
          {project.name} <span class="muted small mono">{project.path}</span>
        </h3>
        <p class="muted">{project.description}</p>
        {error ? <div class="notice bad">{error}</div> : null}
        <table>
          <tbody>
            {workflows.map((w) => (
              <tr>
                <td class="mono">{w.file ?? w.name}</td>
                <td>
                  <RunButtons
                    ctx={p.ctx}
                    kind="project"
                    name={w.name}
                    target={project.name}
                    file={w.file ?? w.name}
                    backend={project.backend}
                    backends={p.backends}
                    git
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    ))}
  </Layout>
);

/** Registers `/projects`. */
export function projectsRoutes(ui: UiApp, x: UiContext): void {
  const { runtime, backendNames, pageContext: ctxOf } = x;
  ui.get('/projects', async (c) => {
    const projects = await Promise.all(
      runtime.listProjects().map(async (project) => {
        try {
          return { project, workflows: await runtime.listProjectWorkflows(project.name), error: null };
        } catch (e) {
          return {
            project,
            workflows: [] as WorkflowView[],
            error: e instanceof Error ? e.message : String(e),
          };
        }
      }),
    );
    return c.html(await html(<ProjectsPage ctx={ctxOf(c)} projects={projects} backends={backendNames()} />));
  });
}
