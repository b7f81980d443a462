/**
 * The SSM tunnel's process tree: `aws ssm start-session` runs `session-manager-plugin` as a child
 * that holds the local listener and the session. A stand-in `aws` does the same (a bash script
 * that starts a listening child and waits), so closing the tunnel must stop the child too.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectTcp, SsmTunnelFactory } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ssm-tunnel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FAKE_AWS = `#!/bin/bash
# Stand-in for "aws ssm start-session": the listener is a child process, like session-manager-plugin.
# It survives a client that resets its connection (the test destroys its socket), as the real one does.
for a in "$@"; do case "$a" in portNumber=*) port="\${a##*localPortNumber=}" ;; esac; done
${JSON.stringify(process.execPath)} -e "require('net').createServer((s) => { s.on('error', () => {}); s.end('SSH-2.0-fake\\\\r\\\\n'); }).listen($port, '127.0.0.1', () => console.log('Waiting for connections...'))" 2>"${dir}/plugin.err" &
echo $! > "${dir}/plugin.pid"
wait
`;

function alive(pid: number): boolean {
  return spawnSync('kill', ['-0', String(pid)]).status === 0;
}

describe('SsmTunnelFactory', () => {
  it('close() stops session-manager-plugin (the child of aws) and frees the local port', async () => {
    const cli = join(dir, 'aws');
    writeFileSync(cli, FAKE_AWS, { mode: 0o755 });
    const tunnel = await new SsmTunnelFactory({ awsCli: cli, readyTimeoutMs: 20_000 }).open({
      instanceId: 'i-1',
      region: 'us-east-2',
      profile: null,
      remotePort: 22,
    });
    const sock = await tunnel.connect();
    const port = (sock as import('node:net').Socket).remotePort!;
    sock.destroy();
    const plugin = Number(readFileSync(join(dir, 'plugin.pid'), 'utf8'));
    const stderr = () => readFileSync(join(dir, 'plugin.err'), 'utf8');
    expect(alive(plugin), `the stand-in plugin is not running: ${stderr()}`).toBe(true);
    await tunnel.close();
    expect(tunnel.alive).toBe(false);
    expect(alive(plugin)).toBe(false);
    await expect(connectTcp(port, '127.0.0.1', 2000)).rejects.toThrow();
  });
});
