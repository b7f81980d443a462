/**
 * `@scripthut/aws-common/testing` — for the tests of AWS backends, whose fakes stand behind real
 * SDK clients (aws-sdk-client-mock): errors shaped the way the SDK throws them, and submit
 * requests of container tasks.
 */
import type { SubmitRequest, TaskSpec, TrackedJob } from '@scripthut/core';
import { taskSpec } from '@scripthut/core/testing';

/**
 * An error the way the SDK throws a service's answer: `name` (the error code), an HTTP status and
 * fault, `$metadata` with the status and a request id.
 */
export function awsServiceError(name: string, message: string, httpStatusCode: number): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode, requestId: 'fake-request', attempts: 1, totalRetryDelay: 0 },
  });
}

/**
 * A socket error the way the SDK throws it: a Node error code and `$metadata` WITHOUT an HTTP
 * status (the SDK's retry middleware adds `$metadata` to every error).
 */
export function awsNetworkError(
  code = 'ECONNRESET',
  message = code === 'EPROTO' ? 'write EPROTO ssl3_get_record:wrong version number' : `socket error ${code}`,
): Error {
  return Object.assign(new Error(message), { code, $metadata: { attempts: 1, totalRetryDelay: 0 } });
}

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
