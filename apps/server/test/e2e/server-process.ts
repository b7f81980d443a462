/** Starts test/fixtures/serve-process.ts as a child process and waits for it to listen. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const REPO = resolve(import.meta.dirname, '../../../..');
const TSX = pathToFileURL(join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const FIXTURE = join(REPO, 'apps/server/test/fixtures/serve-process.ts');

export interface ServerProcess {
  url: string;
  pid: number;
  logs: string[];
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A real server (real runtime, no configured token) on 127.0.0.1, data in `dataDir`. */
export async function startServerProcess(dataDir: string): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, TSX_TSCONFIG_PATH: join(REPO, 'tsconfig.json') };
  delete env.SCRIPTHUT_TOKEN;
  delete env.SCRIPTHUT_DATA_DIR;
  const child = spawn(process.execPath, ['--import', TSX, FIXTURE, dataDir], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const ready = await new Promise<{ url: string; pid: number; logs: string[] }>((done, fail) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) done(JSON.parse(line));
    });
    child.once('exit', (code) => fail(new Error(`server process exited (${code}): ${stderr}`)));
  });
  return {
    ...ready,
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A `/proc/<pid>/status` field in bytes (VmRSS, VmHWM). */
export async function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
