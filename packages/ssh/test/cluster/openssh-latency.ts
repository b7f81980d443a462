/**
 * Per-command cost of the OpenSSH master transport next to the ssh2 connection, on the local test
 * cluster's sshd (not a test: a figure for docs and reviews). Run under the cluster lock:
 *   flock /tmp/scripthut-cluster.lock npx tsx packages/ssh/test/cluster/openssh-latency.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OpenSshTransport, SshConnection } from '../../src/index.js';

const base = process.env.SLB_BASE ?? '/var/lib/scripthut-cluster';
const key = `${base}/ssh/id_ed25519`;
const knownHosts = `${base}/ssh/known_hosts`;
const dir = mkdtempSync('/tmp/sh-bench-');
const controlPath = join(dir, 'cm-%r@%h:%p');
const target = { host: '127.0.0.1', port: 2222, user: 'hut' };
const master = ['-S', controlPath, '-p', '2222', 'hut@127.0.0.1'];
spawnSync(
  'ssh',
  ['-F', '/dev/null', '-M', '-o', 'ControlPersist=yes', '-fN', '-i', key, '-o', 'IdentitiesOnly=yes'].concat(
    ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`],
    master,
  ),
  { stdio: 'ignore' },
);
const openssh = new OpenSshTransport({ ...target, controlPath });
const ssh2 = new SshConnection({ ...target, keyPath: key, knownHostsPath: knownHosts });

async function measure(name: string, t: { exec(c: string): Promise<unknown> }, n: number): Promise<number> {
  await t.exec('true');
  const a = performance.now();
  for (let i = 0; i < n; i++) await t.exec('true');
  const perCommand = (performance.now() - a) / n;
  const b = performance.now();
  await Promise.all(Array.from({ length: n }, () => t.exec('true')));
  const concurrent = performance.now() - b;
  console.log(
    `${name}: ${perCommand.toFixed(1)} ms/command one after another; ${n} at once in ${concurrent.toFixed(0)} ms`,
  );
  return perCommand;
}

try {
  for (let round = 0; round < 2; round++) {
    const a = await measure('ssh2 connection      ', ssh2, 50);
    const b = await measure('OpenSSH master (ssh) ', openssh, 50);
    console.log(`ratio OpenSSH / ssh2 (one after another) = ${(b / a).toFixed(2)}`);
  }
} finally {
  await ssh2.close();
  await openssh.close();
  spawnSync('ssh', ['-O', 'exit', ...master], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}
