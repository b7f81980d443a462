import { describe, expect, it } from 'vitest';
import { resolveTaskEnvironment } from './environment.js';
import { buildJobScript, redactScript } from './script.js';
import { isSecretEnvName, REDACTED_VALUE, redactEnv, redactSecretsInText, secretNamesOf } from './secrets.js';

describe('the default secret name rule', () => {
  it('matches *_TOKEN, *_KEY, *_SECRET, *_PASSWORD (any case) and the bare words', () => {
    for (const name of [
      'HF_TOKEN',
      'GITHUB_TOKEN',
      'AWS_SESSION_TOKEN',
      'AWS_SECRET_ACCESS_KEY',
      'WANDB_API_KEY',
      'CLIENT_SECRET',
      'DB_PASSWORD',
      'PGPASSWORD',
      'MYSQL_PASSWD',
      'api_key',
      'TOKEN',
      'SECRET',
      'SCRIPTHUT_TOKEN',
    ])
      expect(isSecretEnvName(name), name).toBe(true);
    for (const name of [
      'PATH',
      'HOME',
      'AWS_ACCESS_KEY_ID',
      'TOKENIZER',
      'KEYRING',
      'MONKEY',
      'SECRETS_DIR',
      'DATA',
    ])
      expect(isSecretEnvName(name), name).toBe(false);
  });

  it('secretNamesOf: marked names, plus the rule except opted-out names', () => {
    const env = { A_TOKEN: '1', B: '2', C_KEY: '3', D: '4' };
    expect(secretNamesOf(env)).toEqual(['A_TOKEN', 'C_KEY']);
    expect(secretNamesOf(env, ['D'], new Set(['C_KEY']))).toEqual(['A_TOKEN', 'D']);
  });

  it('redactEnv replaces only secret values and leaves the input alone', () => {
    const env = { A_TOKEN: 'x', B: 'y' };
    expect(redactEnv(env, ['A_TOKEN'])).toEqual({ A_TOKEN: REDACTED_VALUE, B: 'y' });
    expect(env.A_TOKEN).toBe('x');
    expect(redactEnv(env, [])).toBe(env);
  });
});

describe('secret names of a task', () => {
  const injected = { SCRIPTHUT_RUN_ID: 'r1' };
  it('come from the environment marks, the rule on task env_vars, and respect secret: false', () => {
    const r = resolveTaskEnvironment({
      injected,
      environment: {
        variables: { DB_URL: 'postgres://x', SSH_KEY: '/path', PLAIN: 'p', HF_TOKEN: 'hf' },
        extraInit: '',
        secretNames: ['DB_URL', 'HF_TOKEN'], // SSH_KEY was marked secret: false
      },
      envVars: { MY_TOKEN: 't', OTHER: 'o' },
    });
    expect(r.secretNames).toEqual(['DB_URL', 'HF_TOKEN', 'MY_TOKEN']);
    // a task's own env_vars cannot opt out of the rule
    const overridden = resolveTaskEnvironment({
      injected,
      environment: { variables: { SSH_KEY: '/p' }, extraInit: '', secretNames: [] },
      envVars: { SSH_KEY: 'task value' },
    });
    expect(overridden.secretNames).toEqual(['SSH_KEY']);
    // runs stored before secrets existed (no secretNames): the rule applies
    const legacy = resolveTaskEnvironment({
      injected,
      environment: { variables: { A_PASSWORD: 'x', B: 'y' }, extraInit: '' },
    });
    expect(legacy.secretNames).toEqual(['A_PASSWORD']);
  });
});

describe('redacting scripts', () => {
  const env = { API_TOKEN: "s3cr3t-'value'", PIN: '7', OTHER: 'visible-7' };
  const script = buildJobScript({
    taskId: 't',
    taskName: "uses s3cr3t-'value'",
    command: 'curl -H "x: $API_TOKEN" https://x; echo 7',
    workingDir: '/tmp',
    env,
  });

  it('hides every secret value (export lines and other occurrences), keeps the rest', () => {
    const red = redactSecretsInText(script, env, ['API_TOKEN', 'PIN']);
    expect(red).not.toContain('s3cr3t');
    expect(red).toContain(`export API_TOKEN='***'`);
    expect(red).toContain(`export PIN='***'`);
    expect(red).toContain(`export OTHER=visible-7`);
    // a short secret is not replaced everywhere (the `echo 7` of the command stays readable)
    expect(red).toContain('echo 7');
    expect(redactScript(script, env, ['API_TOKEN', 'PIN'])).toBe(red);
  });
});
