/**
 * The fixed catalogue of the StubRuntime (stub-runtime.ts): its settings, the one `local`
 * backend, the `demo` workflow of three tasks (`prep`, `work.a`, `work.b`), a source, a project,
 * the dry-run result, one external job, costs and the config view. Plain data, no state.
 */
import type { Issue, TaskSpec } from '@scripthut/core';
import type {
  BackendDetail,
  BackendView,
  ConfigReloadResult,
  CostEstimate,
  DryRunResult,
  JobView,
  ProjectView,
  RunCost,
  ScriptHutRuntime,
  SourceView,
  WorkflowView,
} from '@scripthut/runtime';

/** The token of a StubRuntime (`settings.auth_token`). */
export const STUB_TOKEN = 'stub-token-0123456789abcdef0123456789';

/** A task spec with the stub's defaults. */
export function stubSpec(id: string, deps: string[] = [], command = `echo ${id}`): TaskSpec {
  return {
    id,
    name: id,
    command,
    workingDir: '~',
    partition: 'normal',
    cpus: 1,
    memory: '1G',
    memoryMiB: 1024,
    timeLimit: '0:10:00',
    timeLimitSeconds: 600,
    gres: null,
    image: null,
    deps,
    depPatterns: deps,
    outputFile: null,
    errorFile: null,
    environment: null,
    envVars: {},
    generatesSource: null,
  };
}

/** The stub's settings (a fresh object: tests mutate it). */
export function stubSettings(): ScriptHutRuntime['settings'] {
  return {
    server_host: '127.0.0.1',
    server_port: 8000,
    poll_interval: 5,
    filter_user: null,
    auth_token: STUB_TOKEN,
    data_dir: '/tmp/stub',
    allowed_hosts: [],
    tls_cert: null,
    tls_key: null,
  };
}

/** The one `local` backend. */
export function stubBackends(): BackendView[] {
  return [
    {
      name: 'local',
      type: 'local',
      maxConcurrent: 4,
      health: { connected: true, lastError: null, endpoint: 'localhost' },
      lastPollAt: '2025-01-01T00:00:00.000Z',
      lastPollDurationMs: 3,
      lastError: null,
      inFlight: 0,
      clusterInfo: {
        cpusIdle: 6,
        cpusTotal: 8,
        partitions: [],
        disk: { path: '/tmp', totalBytes: 100 * 2 ** 30, availableBytes: 40 * 2 ** 30 },
      },
      clusterInfoAt: '2025-01-01T00:00:00.000Z',
    },
  ];
}

/** A backend's command log: one `true`. */
export function stubCommandLog(): BackendDetail['commandLog'] {
  return [
    {
      at: '2025-01-01T00:00:00.000Z',
      command: 'true',
      exitCode: 0,
      durationMs: 1,
      stdout: '',
      stderr: '',
    },
  ];
}

/** The `demo` workflow. */
export function stubWorkflows(): WorkflowView[] {
  return [
    {
      kind: 'workflow',
      name: 'demo',
      backend: 'local',
      description: 'Demo workflow',
      maxConcurrent: null,
      git: null,
    },
  ];
}

/** The three tasks of every stub workflow: `prep`, then `work.a` and `work.b`. */
export function stubWorkflowSpecs(): TaskSpec[] {
  return [stubSpec('prep'), stubSpec('work.a', ['prep']), stubSpec('work.b', ['prep'])];
}

/** The dry run of `specs`; `arrays` as set by a test (`work.a` and `work.b` form array 0 unless off). */
export function stubDryRun(
  name: string,
  specs: TaskSpec[],
  backend: string,
  arrays: DryRunResult['arrays'] | null,
): DryRunResult {
  return {
    workflowName: name,
    backendName: backend,
    git: null,
    logDir: '/tmp/logs',
    tasks: specs.map((t) => ({
      task: t,
      workingDir: '/home/u',
      script: `#!/bin/bash\n${t.command}\n`,
      stdoutPath: `/tmp/logs/${t.id}.out`,
      stderrPath: `/tmp/logs/${t.id}.err`,
      ...(arrays?.mode === 'auto' && t.id.startsWith('work.')
        ? { array: { group: 0, index: t.id === 'work.a' ? 0 : 1, size: 2 } }
        : {}),
    })),
    ...(arrays ? { arrays } : {}),
    warnings: [],
    estimate: {
      available: false,
      reason: 'local backend has no price',
      upperBound: null,
      costedTasks: 0,
      uncostedTasks: specs.length,
      currency: 'USD',
    },
  };
}

/** The source `repo` with one workflow file. */
export function stubSources(): SourceView[] {
  return [
    {
      name: 'repo',
      type: 'path',
      backend: 'local',
      location: '/srv/repo',
      branch: null,
      lastSyncAt: null,
      commit: null,
      error: null,
      workflows: [
        {
          kind: 'source',
          name: 'repo/flows/a.json',
          backend: 'local',
          description: '',
          maxConcurrent: null,
          git: null,
          source: 'repo',
          file: 'flows/a.json',
        },
      ],
      warnings: [],
    },
  ];
}

/** The project `proj`. */
export function stubProjects(): ProjectView[] {
  return [
    { name: 'proj', backend: 'local', path: '/srv/proj', description: 'A project', maxConcurrent: null },
  ];
}

/** The workflows of the project `proj`: one `sflow.json`. */
export function stubProjectWorkflows(): WorkflowView[] {
  return [
    {
      kind: 'project',
      name: 'proj/sflow.json',
      backend: 'local',
      description: '',
      maxConcurrent: null,
      git: null,
      project: 'proj',
      file: 'sflow.json',
    },
  ];
}

/** Someone else's running job (listed unless `mine`). */
export function stubExternalJob(): JobView {
  return {
    kind: 'external',
    backend: 'local',
    jobId: '77',
    name: 'someone-else',
    runId: null,
    taskId: null,
    workflowName: null,
    user: 'other',
    state: 'running',
    reason: null,
    partition: null,
    cpus: 2,
    memory: null,
    timeLimit: null,
    submittedAt: null,
    startedAt: null,
    finishedAt: null,
  };
}

/** A run's cost: the local backend has no pricing. */
export function stubRunCost(): RunCost {
  return {
    available: false,
    reason: 'no pricing for local',
    total: null,
    costedTasks: 0,
    uncostedTasks: 0,
    currency: 'USD',
  };
}

/** Every workflow's estimate: 0.5 USD for three tasks. */
export function stubEstimate(): CostEstimate {
  return {
    available: true,
    reason: null,
    upperBound: 0.5,
    costedTasks: 3,
    uncostedTasks: 0,
    currency: 'USD',
  };
}

/** The redacted config view. */
export function stubConfigView() {
  return {
    source: 'default',
    text: 'settings:\n  auth_token: "***"\n',
    config: { settings: { auth_token: '***' } },
  };
}

/** Config validation: a text containing `bad` has one issue. */
export function stubValidateConfig(text: string): { issues: Issue[]; warnings: Issue[] } {
  return text.includes('bad')
    ? { issues: [{ path: 'backends[0].type', message: 'unknown backend type', line: 2 }], warnings: [] }
    : { issues: [], warnings: [] };
}

/** A reload: one live change and one that needs a restart. */
export function stubReloadResult(): ConfigReloadResult {
  return { applied: true, live: ['settings.poll_interval'], restart: ['settings.server_port'], issues: [] };
}
