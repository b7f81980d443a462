/** @jsxImportSource hono/jsx */
// Markdown HTML below comes from renderMarkdown only (markdown-it without raw HTML, then sanitize-html).
/**
 * Task outputs in the UI: the Outputs tab of a task (task summary and markdown files rendered and
 * sanitised, images shown through the authenticated file route, other files downloadable) and the
 * run summary panel made of the tasks' `SCRIPTHUT_RUN_SUMMARY` fragments.
 */
import type { RunSummaryView, ScriptHutRuntime, TaskOutputsView } from '@scripthut/runtime';
import type { FC } from 'hono/jsx';
import { renderMarkdown } from '../../markdown.js';
import { fmtTime, uriComponent } from '../components.js';

/** URL of a recorded output file (the API route checks the path against the listing). */
export function outputFileUrl(runId: string, taskId: string, path: string, download = false): string | null {
  const id = uriComponent(taskId);
  const p = uriComponent(path);
  if (id === null || p === null) return null;
  return `/api/v1/runs/${runId}/tasks/${id}/outputs/file?path=${p}${download ? '&download=1' : ''}`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Markdown of a task rendered with its images resolved against its recorded files. */
function taskMarkdown(view: TaskOutputsView, text: string, base: string): string {
  const recorded = new Set(view.files.filter((f) => f.kind === 'image' && !f.tooLarge).map((f) => f.path));
  return renderMarkdown(text, {
    base,
    images: {
      resolve: (rel) => (recorded.has(rel) ? outputFileUrl(view.runId, view.taskId, rel) : null),
    },
  });
}

/** Markdown files (besides the task summary) read for the tab, at most this many and this large. */
export const INLINE_MARKDOWN_FILES = 3;
export const INLINE_MARKDOWN_BYTES = 256 * 1024;

/** Read the markdown files shown inline (an explicit page view, like reading a log). */
export async function inlineMarkdown(
  runtime: ScriptHutRuntime,
  view: TaskOutputsView,
): Promise<{ path: string; text: string | null; error: string | null }[]> {
  const files = view.files
    .filter((f) => f.kind === 'markdown' && f.path !== 'task-summary.md' && f.size <= INLINE_MARKDOWN_BYTES)
    .slice(0, INLINE_MARKDOWN_FILES);
  return Promise.all(
    files.map(async (f) => {
      try {
        const file = await runtime.readTaskOutputFile(view.runId, view.taskId, f.path);
        return { path: f.path, text: file.data.toString('utf8'), error: null };
      } catch (e) {
        return { path: f.path, text: null, error: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
}

export const TaskOutputsTab: FC<{
  view: TaskOutputsView;
  markdown: { path: string; text: string | null; error: string | null }[];
}> = ({ view, markdown }) => {
  if (view.status !== 'listed')
    return (
      <div class="notice" id="outputs-status" data-outputs={view.status}>
        {view.status === 'unavailable' ? view.reason : `No outputs recorded yet: ${view.reason ?? ''}`}
      </div>
    );
  const images = view.files.filter((f) => f.kind === 'image' && !f.tooLarge);
  return (
    <div id="outputs" data-outputs="listed">
      {view.error ? <div class="notice bad">{view.error}</div> : null}
      {view.taskSummary ? (
        <div class="panel markdown" id="task-summary">
          <div dangerouslySetInnerHTML={{ __html: taskMarkdown(view, view.taskSummary.text, '') }} />
          {view.taskSummary.truncated ? <p class="muted small">(summary cut at 64 KiB)</p> : null}
        </div>
      ) : null}
      {markdown.map((m) => (
        <div class="panel markdown" data-markdown-file={m.path}>
          <h3 class="mono">{m.path}</h3>
          {m.text !== null ? (
            <div
              dangerouslySetInnerHTML={{
                __html: taskMarkdown(
                  view,
                  m.text,
                  m.path.includes('/') ? m.path.slice(0, m.path.lastIndexOf('/')) : '',
                ),
              }}
            />
          ) : (
            <div class="notice bad">{m.error}</div>
          )}
        </div>
      ))}
      {images.length ? (
        <div class="outputs-images">
          {images.map((f) => (
            <figure>
              <img src={outputFileUrl(view.runId, view.taskId, f.path) ?? ''} alt={f.path} loading="lazy" />
              <figcaption class="mono small">{f.path}</figcaption>
            </figure>
          ))}
        </div>
      ) : null}
      {view.missing ? (
        <p class="muted">The task left no output directory.</p>
      ) : view.files.length === 0 ? (
        <p class="muted">The task wrote nothing to $SCRIPTHUT_OUTPUT_DIR.</p>
      ) : (
        <table id="output-files">
          <thead>
            <tr>
              <th>File</th>
              <th>Size</th>
              <th>Modified</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {view.files.map((f) => {
              const url = outputFileUrl(view.runId, view.taskId, f.path, true);
              return (
                <tr>
                  <td class="mono">{f.path}</td>
                  <td>{formatBytes(f.size)}</td>
                  <td class="small">{fmtTime(f.mtime)}</td>
                  <td>
                    {f.tooLarge ? (
                      <span class="muted small">too large to download here</span>
                    ) : url ? (
                      <a href={url} download>
                        download
                      </a>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <p class="muted small">
        {`Listed ${fmtTime(view.listedAt)}`}
        {view.truncated ? ` · only the first ${view.limits.maxFiles} files are recorded` : ''}
        {view.skipped ? ` · ${view.skipped} file(s) with unusable names skipped` : ''}
      </p>
    </div>
  );
};

/** The run summary panel (nothing when no task wrote a fragment). */
export const RunOutputSummary: FC<{ view: RunSummaryView | null }> = ({ view }) => {
  if (!view?.available || view.fragments.length === 0) return null;
  return (
    <div class="panel markdown" id="run-output-summary">
      <h3>Summary</h3>
      {view.fragments.map((f) => (
        <section data-summary-task={f.taskId}>
          <div dangerouslySetInnerHTML={{ __html: renderMarkdown(f.text) }} />
          {f.truncated ? <p class="muted small">(cut at 64 KiB)</p> : null}
        </section>
      ))}
    </div>
  );
};
