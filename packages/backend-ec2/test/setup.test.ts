import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { addBackendToConfigText, EC2_IAM_TEMPLATE, ec2Backend, setupAwsEc2 } from '../src/index.js';
import { FakeAws } from './fake-aws.js';

const ORIGINAL = `# My ScriptHut config — keep this comment!
backends:
  # the cluster we use every day
  - name: hpc
    type: slurm
    ssh:
      host: login.example.edu   # inline comment
      user: me

# trailing notes about settings
settings:
  poll_interval: 30
`;

let dir: string;
let fake: FakeAws;
let restore: () => void;
let clients: ReturnType<FakeAws['install']>['clients'];
let lines: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ec2-setup-'));
  fake = new FakeAws();
  const installed = fake.install();
  restore = installed.restore;
  clients = installed.clients;
  lines = [];
});
afterEach(() => {
  restore();
  rmSync(dir, { recursive: true, force: true });
});

function base(over: Parameters<typeof setupAwsEc2>[0] = {}) {
  return {
    configPath: join(dir, 'scripthut.yaml'),
    clients: { ec2: clients.ec2, ssm: clients.ssm, cloudformation: clients.cloudformation },
    log: (l: string) => lines.push(l),
    sleep: async () => undefined,
    now: () => new Date(2025, 0, 2, 3, 4, 5),
    ...over,
  };
}

describe('setupAwsEc2', () => {
  it('discovers, deploys the stack, appends the backend keeping comments, backs up, smoke-tests', async () => {
    const configPath = join(dir, 'scripthut.yaml');
    writeFileSync(configPath, ORIGINAL);
    fake.stackPolls = 2;
    const res = await setupAwsEc2(base({ region: 'us-east-2', nonInteractive: true }));

    expect(res.backupPath).toBe(`${configPath}.bak.20250102-030405`);
    expect(readFileSync(res.backupPath!, 'utf8')).toBe(ORIGINAL);
    const text = readFileSync(configPath, 'utf8');
    for (const c of [
      '# My ScriptHut config — keep this comment!',
      '# the cluster we use every day',
      '# inline comment',
      '# trailing notes about settings',
    ])
      expect(text).toContain(c);
    const parsed = parse(text);
    expect(parsed.backends).toHaveLength(2);
    expect(parsed.backends[0].name).toBe('hpc');
    expect(parsed.backends[1]).toMatchObject({
      name: 'aws-ec2',
      type: 'ec2',
      aws: { region: 'us-east-2' },
      ami: 'ami-0al2023latest',
      subnet_id: 'subnet-public-b', // MapPublicIpOnLaunch preferred, default VPC only
      instance_profile_arn: 'arn:aws:iam::123456789012:instance-profile/scripthut-ec2-task',
    });
    expect(parsed.settings.poll_interval).toBe(30);
    // The written entry is a valid ec2 backend (the whole file is validated by the CLI's loader).
    const { name, type, ...fields } = parsed.backends[1];
    expect([name, type]).toEqual(['aws-ec2', 'ec2']);
    const check = ec2Backend.configSchema.safeParse(fields);
    expect(check.success ? [] : check.error.issues).toEqual([]);

    // The stack: created once with the embedded template and named-IAM capability, then waited for.
    expect(fake.stackCalls).toHaveLength(1);
    expect(fake.stackCalls[0]!.op).toBe('create');
    expect(fake.stackCalls[0]!.input.TemplateBody).toBe(EC2_IAM_TEMPLATE);
    expect(fake.stackCalls[0]!.input.Capabilities).toEqual(['CAPABILITY_NAMED_IAM']);
    expect(fake.calls.DescribeStacks).toBeGreaterThanOrEqual(3);
    expect(res.stackAction).toBe('created');
    expect(res.outputs.ScripthutControllerPolicyArn).toBe(
      'arn:aws:iam::123456789012:policy/scripthut-ec2-controller',
    );
    expect(res.smokeTest.ok).toBe(true);
    expect(res.attachCommands[0]).toBe(
      'aws iam attach-user-policy --user-name <your-iam-user> --policy-arn arn:aws:iam::123456789012:policy/scripthut-ec2-controller',
    );
    expect(lines.join('\n')).toContain('attach-user-policy');

    // A second run updates (no changes) and replaces the stanza instead of appending another one.
    const again = await setupAwsEc2(
      base({ region: 'us-east-2', nonInteractive: true, now: () => new Date(2025, 0, 2, 3, 4, 6) }),
    );
    expect(again.stackAction).toBe('unchanged');
    expect(again.replaced).toBe(true);
    expect(parse(readFileSync(configPath, 'utf8')).backends).toHaveLength(2);
    expect(readdirSync(dir).filter((f) => f.includes('.bak.'))).toHaveLength(2);
  });

  it('prompts for values in interactive mode and uses the answers', async () => {
    const asked: [string, string][] = [];
    const answers: Record<string, string> = {
      'AWS region': 'eu-west-1',
      'Subnet for task instances': 'subnet-mine',
    };
    const res = await setupAwsEc2(
      base({
        backendName: 'cloud',
        profile: 'scripthut',
        prompt: async (q, def) => {
          asked.push([q, def]);
          return answers[q] ?? '';
        },
      }),
    );
    expect(asked.map((a) => a[0])).toEqual([
      'AWS region',
      'Subnet for task instances',
      'AMI (needs sshd, SSM Agent, ec2-instance-connect; docker is installed at boot when missing)',
      'Default container image',
    ]);
    expect(asked[1]![1]).toBe('subnet-public-b');
    expect(asked[2]![1]).toBe('ami-0al2023latest');
    expect(res.region).toBe('eu-west-1');
    expect(res.backupPath).toBeNull(); // no config file before
    const parsed = parse(readFileSync(join(dir, 'scripthut.yaml'), 'utf8'));
    expect(parsed.backends[0]).toMatchObject({
      name: 'cloud',
      aws: { profile: 'scripthut', region: 'eu-west-1' },
      subnet_id: 'subnet-mine',
    });
  });

  it('--non-interactive without a region fails with a clear error and touches nothing', async () => {
    const saved = [process.env.AWS_REGION, process.env.AWS_DEFAULT_REGION];
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    try {
      await expect(setupAwsEc2(base({ nonInteractive: true, prompt: async () => 'x' }))).rejects.toThrow(
        /AWS region is required: pass --region/,
      );
    } finally {
      if (saved[0] !== undefined) process.env.AWS_REGION = saved[0];
      if (saved[1] !== undefined) process.env.AWS_DEFAULT_REGION = saved[1];
    }
    expect(existsSync(join(dir, 'scripthut.yaml'))).toBe(false);
    expect(fake.stackCalls).toHaveLength(0);
  });

  it('--non-interactive without a default VPC fails instead of prompting for a subnet', async () => {
    fake.vpcs = [];
    await expect(setupAwsEc2(base({ region: 'us-east-2', nonInteractive: true }))).rejects.toThrow(
      /Subnet for task instances: no value and --non-interactive/,
    );
  });

  it('reports a stack that rolls back', async () => {
    fake.stacks.set('scripthut-ec2-iam', {
      StackName: 'scripthut-ec2-iam',
      StackStatus: 'ROLLBACK_COMPLETE',
      template: '',
      params: {},
    } as never);
    await expect(setupAwsEc2(base({ region: 'us-east-2', nonInteractive: true }))).rejects.toThrow(
      /ROLLBACK_COMPLETE.*delete-stack/,
    );
  });
});

describe('addBackendToConfigText', () => {
  it('creates the backends list when missing and keeps comments', () => {
    const { text, replaced } = addBackendToConfigText('# only a comment\nsettings:\n  poll_interval: 5\n', {
      name: 'x',
      type: 'ec2',
    });
    expect(replaced).toBe(false);
    expect(text).toContain('# only a comment');
    expect(parse(text)).toEqual({ settings: { poll_interval: 5 }, backends: [{ name: 'x', type: 'ec2' }] });
  });
  it('handles an empty file and an empty backends key', () => {
    expect(parse(addBackendToConfigText('', { name: 'a' }).text)).toEqual({ backends: [{ name: 'a' }] });
    expect(parse(addBackendToConfigText('backends:\n', { name: 'a' }).text)).toEqual({
      backends: [{ name: 'a' }],
    });
  });
  it('rejects a non-list backends', () => {
    expect(() => addBackendToConfigText('backends: 3\n', { name: 'a' })).toThrow(/not a list/);
  });
});

describe('CloudFormation template', () => {
  it('the embedded copy equals cloudformation/scripthut-ec2-iam.yaml', () => {
    const file = readFileSync(
      join(import.meta.dirname, '../../../cloudformation/scripthut-ec2-iam.yaml'),
      'utf8',
    );
    expect(EC2_IAM_TEMPLATE).toBe(file);
  });
  it('declares the roles, profile, policy and outputs the setup reads', () => {
    // CloudFormation short tags (!Ref, !Sub...) are custom YAML tags: check the text structure.
    const t = EC2_IAM_TEMPLATE;
    for (const s of [
      'AWS::IAM::Role',
      'AWS::IAM::InstanceProfile',
      'AWS::IAM::ManagedPolicy',
      'AmazonSSMManagedInstanceCore',
      'AmazonEC2ContainerRegistryReadOnly',
      'ec2-instance-connect:SendSSHPublicKey',
      'ssm:StartSession',
      'iam:PassRole',
      'ec2:RunInstances',
      'ec2:TerminateInstances',
    ])
      expect(t).toContain(s);
    for (const o of [
      'InstanceProfileArn',
      'ScripthutControllerPolicyArn',
      'TaskInstanceRoleArn',
      'TaskInstanceRoleName',
    ])
      expect(t).toMatch(new RegExp(`^  ${o}:$`, 'm'));
  });
});
