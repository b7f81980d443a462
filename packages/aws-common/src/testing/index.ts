/**
 * `@scripthut/aws-common/testing` — for the tests of AWS backends, whose fakes stand behind real
 * SDK clients (aws-sdk-client-mock): errors shaped the way the SDK throws them, the plumbing of a
 * fake service ({@link FakeAwsService}: call counts, injected failures, latency rounds), CloudWatch
 * Logs paging ({@link fakeLogEventsPage}), and submit
 * requests of container tasks.
 */
import type { SubmitRequest, TaskSpec, TrackedJob } from '@scripthut/core';
import { taskSpec } from '@scripthut/core/testing';

export { awsNetworkError, awsServiceError } from './errors.js';
export { type FakeLogEvent, type FakeLogEventsInput, fakeLogEventsPage } from './fake-logs.js';
export {
  FakeAwsService,
  type FakeServiceErrors,
  type InjectedFailure,
} from './fake-service.js';

let tagSeq = 0;

/**
 * A submit request for a container task: task `build` ("Build", `echo hi`) of run `ab12cd34`, a
 * fresh tag (`shab12cd34` + a counter, ≤ 15 characters), SCRIPTHUT_RUN_ID/_TASK_ID in the
 * environment.
 */
export function containerRequest(
  task: Partial<TaskSpec> = {},
  over: Partial<SubmitRequest> = {},
): SubmitRequest {
  const spec = taskSpec('build', { name: 'Build', command: 'echo hi', ...task });
  return {
    runId: 'ab12cd34',
    taskId: spec.id,
    tag: `shab12cd34${(++tagSeq).toString(36).padStart(4, '0')}`,
    workflowName: 'wf',
    task: spec,
    workingDir: spec.workingDir,
    env: { SCRIPTHUT_RUN_ID: 'ab12cd34', SCRIPTHUT_TASK_ID: spec.id },
    extraInit: '',
    stdoutPath: '',
    stderrPath: '',
    logDir: '',
    git: null,
    ...over,
  };
}

/** A tracked job (what the engine passes to `status`), with the ids of `from`. */
export function trackedJob(jobId: string, from: Partial<TrackedJob> = {}): TrackedJob {
  return {
    jobId,
    runId: 'ab12cd34',
    taskId: 't',
    tag: 'x',
    stdoutPath: null,
    stderrPath: null,
    submittedAt: null,
    lastState: null,
    meta: {},
    ...from,
  };
}
