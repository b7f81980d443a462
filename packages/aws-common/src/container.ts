/**
 * The task script that runs inside a container (AWS Batch job, EC2 instance): environment NAMES in
 * a comment (values travel out of band), `extra_init`, the git clone block, checked `cd`, command.
 */
import { gzipSync } from 'node:zlib';
import { buildJobScript, type SubmitRequest } from '@scripthut/core';

/** Where containers clone git workflows unless SCRIPTHUT_CLONE_DIR says otherwise. */
export const DEFAULT_CLONE_DIR = '/tmp/scripthut-src';

/** The clone block run before the task command in git workflows (values come from the environment). */
export function gitCloneBlock(): string {
  return [
    '# Injected automatically for git workflows',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion, not a JS template
    '_SCRIPTHUT_CLONE_DIR="${SCRIPTHUT_CLONE_DIR:-/tmp/scripthut-src}"',
    'if [ ! -d "$_SCRIPTHUT_CLONE_DIR/.git" ]; then',
    '    git clone "$SCRIPTHUT_GIT_REPO" "$_SCRIPTHUT_CLONE_DIR" || { echo "ScriptHut: git clone failed" >&2; exit 96; }',
    'fi',
    '(cd "$_SCRIPTHUT_CLONE_DIR" && git fetch --all --tags && git checkout "$SCRIPTHUT_GIT_SHA") \\',
    '    || { echo "ScriptHut: git checkout of $SCRIPTHUT_GIT_SHA failed" >&2; exit 96; }',
  ].join('\n');
}

function isRelative(path: string): boolean {
  return !path.startsWith('/') && !path.startsWith('~') && !path.startsWith('$');
}

/**
 * Working dir and environment of a request inside the container. Git workflows get
 * `SCRIPTHUT_CLONE_DIR`/`_GIT_REPO`/`_GIT_SHA`/`_GIT_BRANCH`, and a working dir inside the
 * control plane's clone (or relative) maps to the same place in the container's clone.
 */
export function containerEnvAndDir(request: SubmitRequest): {
  env: Record<string, string>;
  workingDir: string;
} {
  const env = { ...request.env };
  let workingDir = request.workingDir || '~';
  const git = request.git;
  if (git) {
    const cloneDir = env.SCRIPTHUT_CLONE_DIR || DEFAULT_CLONE_DIR;
    env.SCRIPTHUT_CLONE_DIR = cloneDir;
    env.SCRIPTHUT_GIT_REPO = git.repo;
    env.SCRIPTHUT_GIT_SHA = git.sha;
    env.SCRIPTHUT_GIT_BRANCH = git.branch;
    const hostClone = git.cloneDir?.replace(/\/+$/, '');
    if (hostClone && (workingDir === hostClone || workingDir.startsWith(`${hostClone}/`))) {
      workingDir = workingDir.slice(hostClone.length).replace(/^\/+/, '') || '.';
    }
    if (isRelative(workingDir)) {
      const rel = workingDir.replace(/^\.\/?/, '').replace(/\/+$/, '');
      workingDir = rel ? `${cloneDir}/${rel}` : cloneDir;
    }
  }
  return { env, workingDir };
}

/**
 * The task script run in the container: shebang, banner, env NAMES in a comment, `extra_init`,
 * the git clone block (git workflows), checked `cd`, command.
 */
export function renderContainerScript(request: SubmitRequest): string {
  const { env, workingDir } = containerEnvAndDir(request);
  return buildJobScript({
    taskId: request.task.id,
    taskName: request.task.name,
    command: request.task.command,
    workingDir,
    env,
    secretEnvNames: request.secretEnvNames ?? [],
    extraInit: request.extraInit,
    envDelivery: 'comment',
    preamble: request.git ? gitCloneBlock() : undefined,
  });
}

/**
 * `bash -c` that unpacks a gzip+base64 script and runs it in the same shell (`eval`, so `exit`,
 * traps and `$?` behave as with the plain script). Needs `base64` and `gzip` in the image, and says
 * so (exit 127) when they are missing.
 */
export function compressedCommand(script: string): string[] {
  const packed = gzipSync(Buffer.from(script, 'utf8'), { level: 9 }).toString('base64');
  return [
    'bash',
    '-c',
    `_scripthut_script="$(printf %s '${packed}' | base64 -d | gzip -dc)" || { echo 'ScriptHut: cannot unpack the job script (the image needs base64 and gzip)' >&2; exit 127; }; eval "$_scripthut_script"`,
  ];
}
