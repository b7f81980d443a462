/**
 * The fake instances' sshd of the conformance suite: it must be as strict as EC2 Instance Connect
 * and SSM, or the suite would not exercise the backend's key push and tunnel handling.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SshConnection } from '@scripthut/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEphemeralKey } from '../src/index.js';
import { FakeAws } from './fake-aws.js';
import { FakeInstanceSshd } from './instance-sshd.js';

const dir = mkdtempSync(join(tmpdir(), 'ec2-sshd-'));
const fake = new FakeAws();
const restore = fake.install().restore;
const sshd = new FakeInstanceSshd(fake, join(dir, 'instances'));
const connections: SshConnection[] = [];

beforeAll(() => sshd.start());
afterAll(async () => {
  for (const c of connections) await c.close();
  await sshd.stop();
  restore();
  rmSync(dir, { recursive: true, force: true });
});

async function launch(): Promise<string> {
  const out = await fake.runInstances({
    ImageId: 'ami-1',
    InstanceType: 'c5.xlarge',
    MinCount: 1,
    MaxCount: 1,
  });
  return out.Instances![0]!.InstanceId!;
}

/** An SSH connection to the instance through the fake tunnel, authenticating with `key`. */
function connect(instanceId: string, key: ReturnType<typeof generateEphemeralKey>): SshConnection {
  const keyPath = join(dir, `${instanceId}-${connections.length}`);
  writeFileSync(keyPath, key.privateKey, { mode: 0o600 });
  const ssh = new SshConnection(
    { host: instanceId, port: 22, user: 'ec2-user', keyPath },
    {
      connectTimeoutMs: 5_000,
      backoff: { initialMs: 10, maxMs: 10 },
      connectSocket: async () =>
        (
          await sshd.tunnelFactory.open({ instanceId, region: 'us-east-2', profile: null, remotePort: 22 })
        ).connect(),
    },
  );
  connections.push(ssh);
  return ssh;
}

describe('FakeInstanceSshd', () => {
  it('accepts only the key last pushed for the instance and user, and runs commands with bash', async () => {
    const id = await launch();
    await fake.start(id);
    const key = generateEphemeralKey('test');
    const unpushed = await connect(id, key)
      .exec('echo hi', { timeoutMs: 5_000 })
      .catch((e: unknown) => e);
    expect(unpushed).toBeInstanceOf(Error);
    fake.sendSshPublicKey({
      InstanceId: id,
      InstanceOSUser: 'ec2-user',
      SSHPublicKey: key.publicKey,
      AvailabilityZone: 'us-east-2b',
    });
    const res = await connect(id, key).exec('echo "$((6 * 7))"', { timeoutMs: 5_000 });
    expect(res).toMatchObject({ exitCode: 0, stdout: '42\n' });
    // Another instance does not accept that key.
    const other = await launch();
    await fake.start(other);
    const elsewhere = await connect(other, key)
      .exec('echo hi', { timeoutMs: 5_000 })
      .catch((e: unknown) => e);
    expect(elsewhere).toBeInstanceOf(Error);
  });

  it('opens no tunnel to an instance that is not running', async () => {
    const id = await launch();
    const target = { instanceId: id, region: 'us-east-2', profile: null, remotePort: 22 };
    await expect(sshd.tunnelFactory.open(target)).rejects.toThrow(/TargetNotConnected/);
    await fake.start(id);
    await expect(sshd.tunnelFactory.open(target)).resolves.toBeDefined();
    await fake.terminateInstances({ InstanceIds: [id] });
    await expect(sshd.tunnelFactory.open(target)).rejects.toThrow(/TargetNotConnected/);
  });
});
