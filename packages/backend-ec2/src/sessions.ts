/**
 * One SSH session per task instance (tunnel + ephemeral key pushed by EC2 Instance Connect), opened
 * on first use and closed when the instance's result is known.
 */
import { SendSSHPublicKeyCommand } from '@aws-sdk/client-ec2-instance-connect';
import type { Ec2Context } from './context.js';
import { describeInstances } from './fleet.js';
import { InstanceSession } from './session.js';
import type { TunnelFactory } from './tunnel.js';

/** The sessions of a backend. */
export class SessionPool {
  private readonly sessions = new Map<string, InstanceSession>();

  constructor(
    private readonly ctx: Ec2Context,
    private readonly tunnelFactory: TunnelFactory,
    /** Test seam: authenticate with this key file instead of the ephemeral key. */
    private readonly keyPathOverride: string | null,
  ) {}

  /** True when a session to the instance is open (or being opened). */
  has(instanceId: string): boolean {
    return this.sessions.has(instanceId);
  }

  /** The session to an instance, created on first use. */
  get(instanceId: string): InstanceSession {
    let s = this.sessions.get(instanceId);
    if (!s) {
      const ctx = this.ctx;
      s = new InstanceSession({
        tunnelFactory: this.tunnelFactory,
        target: { instanceId, region: ctx.region, profile: ctx.profile, remotePort: 22 },
        sshUser: ctx.cfg.ssh_user,
        keyPathOverride: this.keyPathOverride,
        onWarning: (m) => ctx.log.warn?.(m),
        pushKey: (publicKey) => this.pushKey(instanceId, publicKey),
      });
      this.sessions.set(instanceId, s);
    }
    return s;
  }

  /** SendSSHPublicKey: the key is valid for 60 s, so it is pushed before every connection. */
  private async pushKey(instanceId: string, publicKey: string): Promise<void> {
    const ctx = this.ctx;
    let az = ctx.azOf.get(instanceId);
    if (!az) {
      const [inst] = await describeInstances(ctx, { InstanceIds: [instanceId] });
      az = inst?.Placement?.AvailabilityZone ?? undefined;
      if (az) ctx.azOf.set(instanceId, az);
    }
    await ctx.aws.call('SendSSHPublicKey', () =>
      ctx.instanceConnect.send(
        new SendSSHPublicKeyCommand({
          InstanceId: instanceId,
          InstanceOSUser: ctx.cfg.ssh_user,
          SSHPublicKey: publicKey,
          AvailabilityZone: az,
        }),
      ),
    );
  }

  /** Closes the session to an instance (idempotent). */
  async drop(instanceId: string): Promise<void> {
    const s = this.sessions.get(instanceId);
    this.sessions.delete(instanceId);
    await s?.close();
  }

  /** Closes every session. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions.keys()].map((id) => this.drop(id)));
  }
}
