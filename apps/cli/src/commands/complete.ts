import { type CompletionKind, command } from '../command.js';
import { type CompletionSources, completionCandidates } from '../completion.js';
import { locate } from '../locate.js';

const KINDS: readonly CompletionKind[] = ['workflows', 'runs', 'backends', 'sources'];

/**
 * Hidden helper of the completion scripts: prints the candidates of one kind, one per line. Fast
 * and silent: reads the config and the store directly (never starts or asks a daemon) and prints
 * nothing on any error.
 */
export default command({
  meta: { name: '__complete', description: 'Completion candidates (used by the completion scripts)' },
  args: { kind: { type: 'positional', description: KINDS.join(', ') } },
  access: 'read',
  async run(args, ctx) {
    const kind = args.kind as CompletionKind;
    if (!KINDS.includes(kind)) return 0;
    let words: string[] = [];
    try {
      words = completionCandidates(kind, await loadSources(ctx.globals, ctx.env, ctx.cwd, kind));
    } catch {
      words = [];
    }
    ctx.out.result(words, () => words.join('\n'));
    return 0;
  },
});

async function loadSources(
  globals: Parameters<typeof locate>[0],
  env: NodeJS.ProcessEnv,
  cwd: string,
  kind: CompletionKind,
): Promise<CompletionSources> {
  const { loadConfig } = await import('@scripthut/config');
  const { readFileSync, existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const target = await locate(globals, env, cwd);
  const loaded = await loadConfig({ ...(target.configPath ? { path: target.configPath } : {}), cwd });
  const sources: CompletionSources = {
    workflows: loaded.config.workflows.map((w) => w.name),
    backends: loaded.config.backends.map((b) => b.name),
    sources: loaded.config.sources.map((s) => s.name),
    discovered: [],
    runs: [],
  };
  if (kind === 'workflows') {
    try {
      const state = JSON.parse(readFileSync(join(target.dataDir, 'sources.json'), 'utf8')) as {
        sources?: { name?: unknown; files?: { file?: unknown }[] }[];
      };
      for (const s of state.sources ?? []) {
        if (typeof s.name !== 'string' || !sources.sources.includes(s.name)) continue;
        for (const f of s.files ?? [])
          if (typeof f.file === 'string') sources.discovered.push(`${s.name}/${f.file}`);
      }
    } catch {}
  }
  if (kind === 'runs') {
    const db = join(target.dataDir, 'scripthut.db');
    if (existsSync(db)) {
      const { openSqliteStore } = await import('@scripthut/store');
      const store = openSqliteStore(db, { readonly: true });
      try {
        sources.runs = store
          .listRuns({ limit: 100 })
          .items.map((r) => ({ id: r.run.id, workflow: r.run.workflowName }));
      } finally {
        store.close();
      }
    }
  }
  return sources;
}
