import { describe, expect, it } from 'vitest';
import { injectedEnvironment, resolveTaskEnvironment } from './environment.js';

describe('resolveTaskEnvironment', () => {
  const injected = injectedEnvironment({
    workflowName: 'wf',
    runId: 'abcd1234',
    createdAt: '2030-01-01T00:00:00.000Z',
    git: { repo: 'r', branch: 'b', sha: 's' },
  });

  it('applies environment < env_vars < SCRIPTHUT_* (which cannot be overridden)', () => {
    const { env, extraInit } = resolveTaskEnvironment({
      injected,
      environment: {
        variables: { A: 'env', B: 'env', SCRIPTHUT_WORKFLOW: 'evil-env' },
        extraInit: 'module load x',
      },
      envVars: { B: 'task', C: 'task', SCRIPTHUT_RUN_ID: 'evil-task' },
    });
    expect(env).toEqual({
      A: 'env',
      B: 'task',
      C: 'task',
      SCRIPTHUT_WORKFLOW: 'wf',
      SCRIPTHUT_RUN_ID: 'abcd1234',
      SCRIPTHUT_CREATED_AT: '2030-01-01T00:00:00.000Z',
      SCRIPTHUT_GIT_REPO: 'r',
      SCRIPTHUT_GIT_BRANCH: 'b',
      SCRIPTHUT_GIT_SHA: 's',
    });
    expect(extraInit).toBe('module load x');
  });

  it('drops SCRIPTHUT_* names that ScriptHut does not inject', () => {
    const { env } = resolveTaskEnvironment({
      injected: injectedEnvironment({ workflowName: 'wf', runId: 'abcd1234', createdAt: 'now' }),
      envVars: { SCRIPTHUT_GIT_SHA: 'forged' },
    });
    expect(env.SCRIPTHUT_GIT_SHA).toBeUndefined();
    expect(Object.keys(env).sort()).toEqual([
      'SCRIPTHUT_CREATED_AT',
      'SCRIPTHUT_RUN_ID',
      'SCRIPTHUT_WORKFLOW',
    ]);
  });
});
