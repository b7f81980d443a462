/**
 * Env rules and `partition_map` applied when a run is created, so that the engine receives ready
 * task specs: a task file's env rules (top-level `env` / `env_groups`, `env` on tasks) are taken
 * out of the document and validated, every task's rules are resolved (backend → server → document
 * → task, see `env-rules.ts`), and a task whose rules apply gets a run environment of its own
 * (`scripthut:<hash>`, shared by tasks that resolve alike) in the run's environment snapshot.
 *
 * In the job script the engine exports that environment's literal variables, then runs its
 * `extraInit`: every rule's `init`, then the rules' variables exported again (so they win over what
 * `module load` set, as in the original), including the ones that refer to the job's environment
 * (`${USER}`, `${SCRIPTHUT_RUN_ID}`). A task's `env_vars` are left to the engine and win over rules.
 */
import { createHash } from 'node:crypto';
import {
  type BackendConfig,
  configErrorMap,
  type EnvGroups,
  EnvGroupsSchema,
  type EnvRule,
  EnvRulesSchema,
  formatPath,
  type ScriptHutConfig,
  unknownKeyMessage,
} from '@scripthut/config';
import {
  type GitContext,
  type Issue,
  isSecretEnvName,
  type ParsedTaskDocument,
  type ParseTaskDocumentOptions,
  parseTaskDocument,
  REDACTED_VALUE,
  type RunRecord,
  ScriptHutError,
  shellExportParts,
  type TaskSpec,
} from '@scripthut/core';
import {
  type EnvRuleLayer,
  envValueText,
  isLiteral,
  type ResolvedEnv,
  resolveEnvRules,
} from './env-rules.js';

/** Prefix of the run environments made from env rules. */
export const RULES_ENVIRONMENT_PREFIX = 'scripthut:';

/** The env rules of a task document. */
export interface DocumentEnvRules {
  /** Top-level `env`. */
  rules: EnvRule[];
  /** Top-level `env_groups`. */
  groups: EnvGroups;
  /** Task id → the task's `env`. */
  byTask: Map<string, EnvRule[]>;
}

/** A document without env rules. */
export function noDocumentRules(): DocumentEnvRules {
  return { rules: [], groups: {}, byTask: new Map() };
}

/** The server-level rules (scripthut.yaml top level). */
export type ServerEnvRules = Pick<ScriptHutConfig, 'env' | 'env_groups'>;

type RawIssue = { path: PropertyKey[]; message: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** zod issues → plain messages, one per unknown key (as the config loader reports them). */
function zodIssues(result: { success: boolean; error?: { issues: readonly unknown[] } }): RawIssue[] {
  if (result.success || !result.error) return [];
  const out: RawIssue[] = [];
  for (const raw of result.error.issues) {
    const iss = raw as { code: string; path: PropertyKey[]; message: string; keys?: string[] };
    if (iss.code === 'unrecognized_keys' && iss.keys) {
      const lines = iss.message.split('\n');
      iss.keys.forEach((k, i) => {
        out.push({ path: [...iss.path, k], message: lines[i] ?? unknownKeyMessage(k, []) });
      });
    } else out.push({ path: iss.path, message: iss.message });
  }
  return out;
}

function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => `  - ${i.file ? `${i.file}: ` : ''}${i.path}: ${i.message}`).join('\n');
}

/**
 * Parses a task document like `parseTaskDocument`, after taking its env rules out: top-level `env`
 * and `env_groups`, and `env` on each task, validated with the same schema as scripthut.yaml's
 * rules. Every problem (the rules' and the tasks') is reported in one `task_json_invalid` error,
 * each with its path (`tasks[2] (id "b").env[0].set.1X`).
 *
 * @example
 * ```ts
 * const { tasks, envRules } = parseTaskDocumentWithEnv(stdout, { knownEnvironments: [] });
 * envRules.byTask.get('train'); // [{ if: { SCRIPTHUT_BACKEND: 'hpc' }, init: 'module load cuda' }]
 * ```
 */
export function parseTaskDocumentWithEnv(
  input: string | unknown,
  options: ParseTaskDocumentOptions,
): ParsedTaskDocument & { envRules: DocumentEnvRules } {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch {
      // the parser reports the syntax error with its position
      return { ...parseTaskDocument(input, options), envRules: noDocumentRules() };
    }
  }
  const envRules = noDocumentRules();
  const errors: Issue[] = [];
  const add = (prefix: string, issues: RawIssue[]) => {
    for (const i of issues)
      errors.push({
        path: `${prefix}${i.path.length ? formatPath(i.path).replace(/^(?=[^[])/, '.') : ''}`,
        message: i.message,
        severity: 'error',
        ...(options.source ? { file: options.source } : {}),
      });
  };
  let stripped: unknown = doc;
  if (isObject(doc)) {
    const { env, env_groups, ...rest } = doc;
    stripped = rest;
    if (env !== undefined) {
      const r = EnvRulesSchema.safeParse(env, { error: configErrorMap });
      if (r.success) envRules.rules = r.data;
      else add('env', zodIssues(r));
    }
    if (env_groups !== undefined) {
      const r = EnvGroupsSchema.safeParse(env_groups, { error: configErrorMap });
      if (r.success) envRules.groups = r.data;
      else add('env_groups', zodIssues(r));
    }
    if (Array.isArray(rest.tasks)) {
      rest.tasks = rest.tasks.map((task: unknown, i: number) => {
        if (!isObject(task) || task.env === undefined) return task;
        const { env, ...others } = task;
        const label =
          typeof task.id === 'string' ? `tasks[${i}] (id ${JSON.stringify(task.id)})` : `tasks[${i}]`;
        const r = EnvRulesSchema.safeParse(env, { error: configErrorMap });
        if (!r.success) add(`${label}.env`, zodIssues(r));
        else if (typeof task.id === 'string') envRules.byTask.set(task.id, r.data);
        return others;
      });
    }
  }
  let parsed: ParsedTaskDocument;
  try {
    parsed = parseTaskDocument(stripped, options);
  } catch (e) {
    if (!ScriptHutError.is(e) || e.code !== 'task_json_invalid' || errors.length === 0) throw e;
    const all = [...errors, ...e.issues.filter((i) => i.severity !== 'warning')];
    throw invalid(
      all,
      e.issues.filter((i) => i.severity === 'warning'),
      options.source,
    );
  }
  if (errors.length) throw invalid(errors, parsed.warnings, options.source);
  return { ...parsed, envRules };
}

function invalid(errors: Issue[], warnings: Issue[], source: string | undefined): ScriptHutError {
  const n = errors.length;
  return new ScriptHutError(
    'task_json_invalid',
    `Invalid task JSON${source ? ` (${source})` : ''}: ${n} error${n === 1 ? '' : 's'}\n${formatIssues(errors)}`,
    { issues: [...errors, ...warnings] },
  );
}

// ---------------------------------------------------------------------------------------------

/** `partition_map` of a backend (empty for types without partitions). */
export function partitionMapOf(backend: BackendConfig): Readonly<Record<string, string>> {
  return 'partition_map' in backend ? backend.partition_map : {};
}

/** The backend's real partition for `partition` (unchanged when it is not mapped). */
export function mapPartition(partition: string | null, map: Readonly<Record<string, string>>): string | null {
  return partition !== null && Object.hasOwn(map, partition) ? map[partition]! : partition;
}

/** The backend and server layers (the ones every task of the backend gets). */
export function baseLayers(backend: BackendConfig, server: ServerEnvRules): EnvRuleLayer[] {
  return [
    {
      label: `backend ${backend.name}`,
      rules: 'env' in backend ? backend.env : [],
      groups: 'env_groups' in backend ? backend.env_groups : {},
    },
    { label: 'server', rules: server.env, groups: server.env_groups },
  ];
}

/** What a resolution turns into in a job script. */
export interface RenderedRules {
  /** Variables with literal values (exported by the engine before `init`). */
  variables: Record<string, string>;
  /** `init` texts. */
  init: string[];
  /** `export` lines run after `init` (every variable when there is init, else those that refer to the job's environment). */
  exports: string[];
}

/** Renders `resolved`, leaving out the variables `keep` refuses (they come from elsewhere). */
export function renderRules(
  resolved: ResolvedEnv,
  keep: (name: string) => boolean = () => true,
): RenderedRules {
  const variables: Record<string, string> = {};
  const exports: string[] = [];
  for (const [name, v] of resolved.variables) {
    if (!keep(name)) continue;
    const literal = isLiteral(v.value);
    if (literal) variables[name] = envValueText(v.value);
    if (resolved.init.length > 0 || !literal) exports.push(shellExportParts(name, v.value));
  }
  return { variables, init: resolved.init, exports };
}

/** `init`, then the exports (with a comment saying why), as `extraInit` text. */
export function rulesExtraInit(r: RenderedRules, between: string[] = []): string {
  const lines = [...r.init, ...between.filter((l) => l.trim() !== '')];
  if (r.exports.length)
    lines.push(
      r.init.length
        ? '# env rules: variables exported after init, so that they win over it'
        : "# env rules: variables that use the job's environment",
      ...r.exports,
    );
  return lines.join('\n');
}

/** A task's environment as shown by a dry run. */
export interface TaskEnvironmentView {
  /** Partition the task is submitted to (after partition_map). */
  partition: string | null;
  /** The task file's partition, when partition_map changed it. */
  requestedPartition: string | null;
  /** Run environment the task uses (a named environment or `scripthut:<hash>`). */
  environment: string | null;
  /** Variables the task gets besides SCRIPTHUT_* (job-time references shown as `${NAME}`). */
  variables: { name: string; value: string; origin: string }[];
  /** Bash run before the task command (env rule `init`, or a named environment's extra_init). */
  init: string;
  /** True when env rules were resolved for the task. */
  envRules: boolean;
}

/** What {@link prepareRunTasks} needs. */
export interface RunTaskContext {
  /** The backend the run goes to (as built). */
  backend: BackendConfig;
  server: ServerEnvRules;
  document: DocumentEnvRules;
  /** The run's snapshot of the configured named environments. */
  environments: RunRecord['environments'];
  workflowName: string;
  git: GitContext | null;
}

/** Result of {@link prepareRunTasks}. */
export interface PreparedRunTasks {
  tasks: TaskSpec[];
  /** The named environments plus the ones made from env rules. */
  environments: RunRecord['environments'];
  /** Per task (same order as `tasks`), for dry runs. */
  views: TaskEnvironmentView[];
  /** Unknown groups and the like, once each. */
  warnings: Issue[];
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    isObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * Applies the backend's `partition_map` and every layer of env rules to `tasks`. Tasks of a run
 * without any env rule keep their named `environment` and `env_vars` as they are (the spec's
 * model); otherwise each task's rules are resolved with, in the task layer, its named environment
 * (`set` its variables, `init` its extra_init) first and its `env_vars` last.
 *
 * @throws ScriptHutError `validation_failed` when env groups include each other in a cycle.
 */
export function prepareRunTasks(tasks: readonly TaskSpec[], ctx: RunTaskContext): PreparedRunTasks {
  const map = partitionMapOf(ctx.backend);
  const base = baseLayers(ctx.backend, ctx.server);
  const document: EnvRuleLayer = {
    label: 'document',
    rules: ctx.document.rules,
    groups: ctx.document.groups,
  };
  const layerRules = base.some((l) => l.rules.length > 0) || ctx.document.rules.length > 0;
  const seed: Record<string, string> = {
    SCRIPTHUT_BACKEND: ctx.backend.name,
    SCRIPTHUT_WORKFLOW: ctx.workflowName,
  };
  if (ctx.git?.repo) seed.SCRIPTHUT_GIT_REPO = ctx.git.repo;
  if (ctx.git?.branch) seed.SCRIPTHUT_GIT_BRANCH = ctx.git.branch;
  if (ctx.git?.sha) seed.SCRIPTHUT_GIT_SHA = ctx.git.sha;

  const environments: RunRecord['environments'] = { ...ctx.environments };
  const warnings = new Set<string>();
  const views: TaskEnvironmentView[] = [];
  const out = tasks.map((spec) => {
    const partition = mapPartition(spec.partition, map);
    const named = spec.environment === null ? undefined : ctx.environments[spec.environment];
    // values of variables a named environment marks secret are never shown
    const secret = new Set((named as { secretNames?: string[] } | undefined)?.secretNames ?? []);
    // …and neither are those of other variables named like secrets (*_TOKEN, *_KEY…, env rules and
    // env_vars), unless a named environment defines them as not secret
    const shown = (name: string, value: string) =>
      secret.has(name) || (!Object.hasOwn(named?.variables ?? {}, name) && isSecretEnvName(name))
        ? REDACTED_VALUE
        : value;
    const taskRules = ctx.document.byTask.get(spec.id) ?? [];
    const view: TaskEnvironmentView = {
      partition,
      requestedPartition: partition !== spec.partition ? spec.partition : null,
      environment: spec.environment,
      variables: [],
      init: '',
      envRules: false,
    };
    views.push(view);
    if (!layerRules && taskRules.length === 0) {
      // the spec's model: named environment, then env_vars (the engine merges them)
      for (const [name, value] of Object.entries(named?.variables ?? {}))
        if (!Object.hasOwn(spec.envVars, name))
          view.variables.push({ name, value: shown(name, value), origin: `environment ${spec.environment}` });
      for (const [name, value] of Object.entries(spec.envVars))
        view.variables.push({ name, value: shown(name, value), origin: 'env_vars' });
      view.init = named?.extraInit ?? '';
      return partition === spec.partition ? spec : { ...spec, partition };
    }
    const own: EnvRule[] = [];
    if (named) {
      const rule: EnvRule = { set: { ...named.variables } };
      if (named.extraInit.trim() !== '') rule.init = named.extraInit;
      own.push(rule);
    }
    const task: EnvRuleLayer = { label: 'task', rules: [...taskRules] };
    const layers: EnvRuleLayer[] = [...base, document];
    if (own.length) layers.push({ label: `environment ${spec.environment}`, rules: own });
    layers.push(task);
    if (Object.keys(spec.envVars).length)
      layers.push({ label: 'env_vars', rules: [{ set: { ...spec.envVars } }] });
    const resolved = resolveEnvRules(layers, seed);
    for (const w of resolved.warnings) warnings.add(w);
    const rendered = renderRules(resolved, (name) => !Object.hasOwn(spec.envVars, name));
    const definition = {
      ...(named ?? {}),
      variables: rendered.variables,
      extraInit: rulesExtraInit(rendered),
    };
    const name = `${RULES_ENVIRONMENT_PREFIX}${createHash('sha256').update(stableJson(definition)).digest('hex').slice(0, 12)}`;
    environments[name] = definition;
    view.environment = name;
    view.envRules = true;
    view.init = resolved.init.join('\n');
    for (const [n, v] of resolved.variables)
      view.variables.push({ name: n, value: shown(n, envValueText(v.value)), origin: v.origin });
    return { ...spec, partition, environment: name };
  });
  return {
    tasks: out,
    environments,
    views,
    warnings: [...warnings].map((message) => ({ path: 'env', message, severity: 'warning' as const })),
  };
}
