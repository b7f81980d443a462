/**
 * Test helper: a {@link SlurmSsh} that runs commands with the local bash, with fake `sbatch`,
 * `squeue`, `sacct` and `scancel` first on PATH and HOME in a temporary directory. The backend's
 * real bash programs (heredocs, base64, markers) run for real; only Slurm is faked.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendHealth, CommandLogEntry, ExecResult } from '@scripthut/core';
import type { SlurmExecOptions, SlurmSsh } from '../src/index.js';

const FAKE_SBATCH = `#!/bin/bash
# fake sbatch --parsable: stores the script, fails on partition nosuchpart or mem 999G, or with the
# text of sbatch.fail; answers "<id>;<cluster>" for --clusters; records the Slurm environment.
script=$(cat)
env | grep -E '^(SBATCH|SQUEUE|SACCT|SLURM)_' | sort >> "$FAKE_STATE/sbatch.env"
if [ -f "$FAKE_STATE/sbatch.fail" ]; then cat "$FAKE_STATE/sbatch.fail" >&2; exit 1; fi
if printf '%s\\n' "$script" | grep -q '^#SBATCH --partition=nosuchpart'; then
  echo "sbatch: error: invalid partition specified: nosuchpart" >&2
  echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2
  exit 1
fi
if printf '%s\\n' "$script" | grep -q '^#SBATCH --mem=999G'; then
  echo "sbatch: error: Memory specification can not be satisfied" >&2
  echo "sbatch: error: Batch job submission failed: Requested node configuration is not available" >&2
  exit 1
fi
n=$(( $(cat "$FAKE_STATE/counter" 2>/dev/null || echo 100) + 1 ))
echo "$n" > "$FAKE_STATE/counter"
printf '%s\\n' "$script" > "$FAKE_STATE/job-$n.sh"
cluster=$(printf '%s\\n' "$script" | sed -n 's/^#SBATCH --clusters=\\([^,]*\\).*/\\1/p')
if [ -f "$FAKE_STATE/sbatch.kill-after" ]; then kill -9 $PPID; fi
echo "$n\${cluster:+;$cluster}"
`;

const FAKE_SQUEUE = `#!/bin/bash
echo "$*" >> "$FAKE_STATE/squeue.args"
env | grep -E '^(SBATCH|SQUEUE|SACCT|SLURM)_' | sort >> "$FAKE_STATE/squeue.env"
if [ "\${*: -1}" = "%F|%j" ]; then
  # tag lookup: every "submitted" job with its name (none while lookup.hidden exists)
  [ -f "$FAKE_STATE/lookup.hidden" ] && exit 0
  for f in "$FAKE_STATE"/job-*.sh; do [ -f "$f" ] || continue; id=\${f##*/job-}; id=\${id%.sh}
    printf '%s|%s\\n' "$id" "$(sed -n 's/^#SBATCH --job-name=//p' "$f")"; done
  exit 0
fi
if [ "\${*: -1}" = "%i" ] || [ "\${*: -1}" = "%F" ]; then
  # verification: print the ids that were "submitted"
  ids=""; prev=""; for a in "$@"; do [ "$prev" = "-j" ] && ids="$a"; prev="$a"; done
  for id in \${ids//,/ }; do [ -f "$FAKE_STATE/job-$id.sh" ] && [ ! -f "$FAKE_STATE/hide-$id" ] && echo "$id"; done
  exit 0
fi
[ -f "$FAKE_STATE/squeue.err" ] && cat "$FAKE_STATE/squeue.err" >&2
[ -f "$FAKE_STATE/squeue.txt" ] && cat "$FAKE_STATE/squeue.txt"
exit $(cat "$FAKE_STATE/squeue.rc" 2>/dev/null || echo 0)
`;

const FAKE_SACCT = `#!/bin/bash
echo "$*" >> "$FAKE_STATE/sacct.args"
[ -f "$FAKE_STATE/sacct.txt" ] && cat "$FAKE_STATE/sacct.txt"
exit 0
`;

const FAKE_SCANCEL = `#!/bin/bash
echo "$*" >> "$FAKE_STATE/scancel.args"
[ -f "$FAKE_STATE/scancel.err" ] && { cat "$FAKE_STATE/scancel.err" >&2; exit 1; }
exit 0
`;

export class LocalBashRunner implements SlurmSsh {
  readonly remote = true;
  readonly root: string;
  readonly home: string;
  readonly state: string;
  readonly bin: string;
  readonly log: CommandLogEntry[] = [];
  closed = false;

  constructor() {
    this.root = mkdtempSync(join(tmpdir(), 'slurm-fake-'));
    this.home = join(this.root, 'home with space');
    this.state = join(this.root, 'state');
    this.bin = join(this.root, 'bin');
    for (const d of [this.home, this.state, this.bin]) mkdirSync(d, { recursive: true });
    for (const [name, text] of [
      ['sbatch', FAKE_SBATCH],
      ['squeue', FAKE_SQUEUE],
      ['sacct', FAKE_SACCT],
      ['scancel', FAKE_SCANCEL],
    ] as const) {
      writeFileSync(join(this.bin, name), text);
      chmodSync(join(this.bin, name), 0o755);
    }
  }

  writeState(name: string, content: string): void {
    writeFileSync(join(this.state, name), content);
  }

  readState(name: string): string {
    try {
      return readFileSync(join(this.state, name), 'utf8');
    } catch {
      return '';
    }
  }

  /** Extra environment of every command (what a user's rc files would export). */
  env: Record<string, string> = {};

  exec(command: string, options: SlurmExecOptions = {}): Promise<ExecResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-c', command], {
        cwd: this.home,
        env: {
          PATH: `${this.bin}:${process.env.PATH}`,
          HOME: this.home,
          FAKE_STATE: this.state,
          LANG: 'C',
          ...this.env,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('error', reject);
      child.on('close', (code) => {
        const exitCode = code ?? -1;
        this.log.push({
          at: new Date(started).toISOString(),
          command: options.logAs ?? command,
          exitCode,
          durationMs: Date.now() - started,
          stdout,
          stderr,
        });
        resolve({ stdout, stderr, exitCode });
      });
      child.stdin.on('error', () => {}); // EPIPE when the command exits before reading stdin
      child.stdin.end(options.stdin ?? '');
    });
  }

  health(): BackendHealth {
    return { connected: !this.closed, lastError: null, endpoint: 'local-bash' };
  }

  commandLog(): CommandLogEntry[] {
    return [...this.log];
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
