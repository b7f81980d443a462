/**
 * What the commands need from ScriptHut, as one async interface. Its only production implementation
 * ({@link createClientApi}) goes through the server's typed HTTP client — against a remote server, or
 * against an in-process app whose `fetch` is called directly — so both modes share every code path.
 */
import type {
  Issue,
  LogChunk,
  LogReadOptions,
  RunSummary,
  TaskRecord,
  TaskTransition,
} from '@scripthut/core';
import type {
  AdhocTaskInput,
  BackendDetail,
  BackendView,
  ConfigReloadResult,
  CostEstimate,
  DryRunResult,
  JobQuery,
  JobView,
  ProjectView,
  RunCost,
  RunOptions,
  RunQuery,
  RunRerunMode,
  SourceView,
  TaskQuery,
  WorkflowView,
} from '@scripthut/runtime';

export interface CliApi {
  health(): Promise<unknown>;

  listBackends(): Promise<BackendView[]>;
  getBackend(name: string): Promise<BackendDetail>;

  listWorkflows(): Promise<WorkflowView[]>;
  dryRunWorkflow(name: string, options?: RunOptions): Promise<DryRunResult>;
  runWorkflow(name: string, options?: RunOptions): Promise<RunSummary>;

  listSources(): Promise<SourceView[]>;
  syncSource(name: string): Promise<SourceView>;
  runSourceWorkflow(source: string, file: string, options?: RunOptions): Promise<RunSummary>;

  listProjects(): Promise<ProjectView[]>;
  listProjectWorkflows(project: string): Promise<WorkflowView[]>;
  runProjectWorkflow(project: string, file: string, options?: RunOptions): Promise<RunSummary>;

  runAdhocTask(input: AdhocTaskInput): Promise<RunSummary>;

  listRuns(query?: RunQuery): Promise<{ items: RunSummary[]; total: number }>;
  getRun(runId: string): Promise<RunSummary>;
  listTasks(runId: string, query?: TaskQuery): Promise<{ items: TaskRecord[]; total: number }>;
  getTask(runId: string, taskId: string): Promise<TaskRecord>;
  taskTransitions(runId: string, taskId: string): Promise<TaskTransition[]>;
  cancelRun(runId: string): Promise<RunSummary>;
  rerunRun(runId: string, mode: RunRerunMode): Promise<RunSummary>;
  readTaskLog(
    runId: string,
    taskId: string,
    stream: 'stdout' | 'stderr',
    options?: LogReadOptions,
  ): Promise<LogChunk>;

  listJobs(query?: JobQuery): Promise<JobView[]>;

  runCost(runId: string): Promise<RunCost>;
  estimateWorkflow(kind: WorkflowView['kind'], name: string, options?: RunOptions): Promise<CostEstimate>;

  validateConfigText(text: string): Promise<{ issues: Issue[]; warnings: Issue[] }>;
  reloadConfig(): Promise<ConfigReloadResult>;
}
