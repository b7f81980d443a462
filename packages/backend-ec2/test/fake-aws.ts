/**
 * A stateful fake of the EC2, EC2 Instance Connect, SSM and CloudFormation calls ScriptHut makes,
 * wired into real SDK clients with aws-sdk-client-mock. Instances go pending → running (after
 * `pendingPolls` DescribeInstances calls, unless held) → shutting-down → terminated.
 *
 * Behaviours of real AWS it models (which were ever seen on a real account: docs/aws.md):
 * - eventual consistency right after RunInstances (`consistencyDelay`): the new instance is unknown
 *   to TerminateInstances and DescribeInstances for a few calls, and ONE unknown id fails the
 *   whole TerminateInstances call with InvalidInstanceID.NotFound;
 * - IMDSv2 and the hop limit: with HttpTokens=required and a PUT response hop limit of 1 (EC2's
 *   default), containers on the docker bridge get no instance-role credentials
 *   (`containerCredentials` of the instance);
 * - AMI models (`amis`): docker installed (the default), docker only in the package repository
 *   (the stock Amazon Linux 2023 AMI), or none at all; the cluster harness runs the user-data
 *   accordingly;
 * - network failures as the SDK reports them (`networkError`): no HTTP status, but `$metadata`;
 * - a request that takes effect but whose answer is lost (`failNext(op, n, 'apply-then-500')`);
 * - RunInstances refuses an instance type that is not `<family>.<size>` (InvalidParameterValue).
 *
 * Calls are counted per operation and, with `latencyMs`, answered in rounds (`roundTrips`): see
 * `FakeAwsService` in `@scripthut/aws-common/testing`.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  type CreateStackCommandInput,
  DescribeStacksCommand,
  type Stack,
  UpdateStackCommand,
  type UpdateStackCommandInput,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  DescribeSubnetsCommand,
  type DescribeSubnetsCommandInput,
  DescribeVpcsCommand,
  EC2Client,
  type Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  type Subnet,
  TerminateInstancesCommand,
  type TerminateInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import {
  EC2InstanceConnectClient,
  SendSSHPublicKeyCommand,
  type SendSSHPublicKeyCommandInput,
} from '@aws-sdk/client-ec2-instance-connect';
import { GetParameterCommand, type GetParameterCommandInput, SSMClient } from '@aws-sdk/client-ssm';
import { awsServiceError as awsError, FakeAwsService } from '@scripthut/aws-common/testing';
import { mockClient } from 'aws-sdk-client-mock';

export const REGION = 'us-east-2';
export const ACCOUNT = '123456789012';

/** SDK-shaped errors (shared with the other AWS backends' fakes). */
export { awsServiceError as awsError } from '@scripthut/aws-common/testing';

export const throttled = () => awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);

export { awsNetworkError as networkError } from '@scripthut/aws-common/testing';

/** The shape of an EC2 instance type (`<family>.<size>`): RunInstances refuses anything else. */
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.(nano|micro|small|medium|large|\d*xlarge|metal(-\d+xl)?)$/;

/** What an AMI has: docker installed, docker in its package repository only, or no docker at all. */
export type AmiModel = 'docker' | 'docker-in-repo' | 'no-docker';

type Op =
  | 'RunInstances'
  | 'DescribeInstances'
  | 'TerminateInstances'
  | 'SendSSHPublicKey'
  | 'CreateStack'
  | 'UpdateStack'
  | 'DescribeStacks';

/** The EC2 API calls: what latency rounds (`roundTrips`) count. */
const EC2_API: ReadonlySet<Op> = new Set(['RunInstances', 'DescribeInstances', 'TerminateInstances']);

export interface FakeInstance extends Instance {
  userData: string;
  runInput: RunInstancesCommandInput;
  pollsUntilRunning: number;
  held: boolean;
  /** EC2 API calls still to come before the instance is visible to them (eventual consistency). */
  invisibleCalls: number;
  /** Whether a container on the docker bridge can get the instance role's credentials from IMDS. */
  containerCredentials: boolean;
  /** What the instance's AMI has. */
  ami: AmiModel;
}

export class FakeAws extends FakeAwsService<Op> {
  readonly instances = new Map<string, FakeInstance>();
  readonly runInputs: RunInstancesCommandInput[] = [];
  readonly describeInputs: DescribeInstancesCommandInput[] = [];
  readonly pushedKeys: SendSSHPublicKeyCommandInput[] = [];
  readonly stacks = new Map<string, Stack & { template: string; params: Record<string, string> }>();
  readonly stackCalls: {
    op: 'create' | 'update';
    input: CreateStackCommandInput | UpdateStackCommandInput;
  }[] = [];
  /** DescribeInstances calls an instance stays pending. */
  pendingPolls = 1;
  /** EC2 calls (Terminate/Describe) a new instance stays unknown to (eventual consistency). */
  consistencyDelay = 0;
  /** AMI id → model; unknown AMIs have docker installed. */
  readonly amis = new Map<string, AmiModel>();
  /** Called with each launched instance (the harness starts the user-data). */
  onLaunch: (inst: FakeInstance) => void | Promise<void> = () => undefined;
  /** Called when an instance becomes running (the harness "boots" it: runs the user-data). */
  onRunning: (inst: FakeInstance) => void | Promise<void> = () => undefined;
  /** Called with each instance entering shutting-down (the harness kills its processes). */
  onTerminate: (inst: FakeInstance) => void | Promise<void> = () => undefined;
  /** DescribeStacks polls a stack stays *_IN_PROGRESS. */
  stackPolls = 1;
  vpcs = [{ VpcId: 'vpc-default1', IsDefault: true }];
  subnets: Subnet[] = [
    {
      SubnetId: 'subnet-private',
      VpcId: 'vpc-default1',
      AvailabilityZone: `${REGION}a`,
      MapPublicIpOnLaunch: false,
      State: 'available',
    },
    {
      SubnetId: 'subnet-public-b',
      VpcId: 'vpc-default1',
      AvailabilityZone: `${REGION}b`,
      MapPublicIpOnLaunch: true,
      State: 'available',
    },
    {
      SubnetId: 'subnet-other',
      VpcId: 'vpc-other',
      AvailabilityZone: `${REGION}c`,
      MapPublicIpOnLaunch: true,
      State: 'available',
    },
  ];
  amiParameter = 'ami-0al2023latest';
  /** Ids start at a random point so instances of different fakes never collide. */
  private seq = Math.floor(Math.random() * 2 ** 40);
  private readonly tokens = new Map<string, string>();

  constructor() {
    super({ throttled, serverError: () => awsError('InternalError', 'An internal error has occurred', 500) });
  }

  /**
   * What the mocked clients call: the current round (with `latencyMs`) of an EC2 API call, then the
   * counted call. Rounds are the EC2 API's: the scheduler of the backend. SendSSHPublicKey (EC2
   * Instance Connect, a service of its own) belongs to connecting to one instance, like the SSH
   * probe that follows it; CloudFormation is setup.
   */
  private async run<T>(op: Op, fn: () => T | Promise<T>): Promise<T> {
    if (EC2_API.has(op)) await this.answerRound();
    return this.perform(op, fn);
  }

  /** Keep an instance pending (startup-timeout tests). */
  hold(id: string): void {
    this.instances.get(id)!.held = true;
  }

  async runInstances(input: RunInstancesCommandInput) {
    if (input.ClientToken && this.tokens.has(input.ClientToken)) {
      const inst = this.instances.get(this.tokens.get(input.ClientToken)!)!;
      return { Instances: [this.view(inst)] };
    }
    if (!input.ImageId?.startsWith('ami-'))
      throw awsError('InvalidAMIID.Malformed', `Invalid id: "${input.ImageId}"`, 400);
    if (!INSTANCE_TYPE.test(input.InstanceType ?? ''))
      throw awsError('InvalidParameterValue', `Invalid value '${input.InstanceType}' for InstanceType.`, 400);
    const raw = Buffer.from(input.UserData ?? '', 'base64');
    if (raw.length > 16 * 1024)
      throw awsError('InvalidParameterValue', 'User data is limited to 16384 bytes', 400);
    const id = `i-${(++this.seq).toString(16).padStart(17, '0')}`;
    const tags = input.TagSpecifications?.find((t) => t.ResourceType === 'instance')?.Tags ?? [];
    const inst: FakeInstance = {
      InstanceId: id,
      InstanceType: input.InstanceType,
      ImageId: input.ImageId,
      LaunchTime: new Date(),
      State: { Name: 'pending', Code: 0 },
      Placement: { AvailabilityZone: `${REGION}b` },
      SubnetId: input.SubnetId,
      Tags: tags,
      userData: raw.toString('base64'),
      runInput: structuredClone(input),
      pollsUntilRunning: this.pendingPolls,
      held: false,
      invisibleCalls: this.consistencyDelay,
      containerCredentials: FakeAws.containerCredentials(input),
      ami: this.amis.get(input.ImageId) ?? 'docker',
    };
    this.instances.set(id, inst);
    if (input.ClientToken) this.tokens.set(input.ClientToken, id);
    this.runInputs.push(structuredClone(input));
    await this.onLaunch(inst);
    return { Instances: [this.view(inst)] };
  }

  /**
   * IMDS from a container on the docker bridge: IMDSv1 (tokens optional) answers; with IMDSv2 the
   * token PUT's answer is dropped after `HttpPutResponseHopLimit` hops (default 1), one short.
   */
  static containerCredentials(input: RunInstancesCommandInput): boolean {
    const m = input.MetadataOptions;
    if (m?.HttpEndpoint === 'disabled') return false;
    if (m?.HttpTokens !== 'required') return true;
    return (m.HttpPutResponseHopLimit ?? 1) >= 2;
  }

  private view(inst: FakeInstance): Instance {
    const {
      userData: _u,
      runInput: _r,
      pollsUntilRunning: _p,
      held: _h,
      invisibleCalls: _i,
      containerCredentials: _c,
      ami: _a,
      ...rest
    } = inst;
    return structuredClone(rest);
  }

  /** True while EC2 does not know the instance yet; each such call brings it closer to visible. */
  private invisible(inst: FakeInstance | undefined): boolean {
    if (!inst || inst.invisibleCalls <= 0) return false;
    inst.invisibleCalls--;
    return true;
  }

  private matches(inst: FakeInstance, input: DescribeInstancesCommandInput): boolean {
    if (input.InstanceIds?.length && !input.InstanceIds.includes(inst.InstanceId!)) return false;
    for (const f of input.Filters ?? []) {
      const m = /^tag:(.+)$/.exec(f.Name ?? '');
      if (m) {
        const v = inst.Tags?.find((t) => t.Key === m[1])?.Value;
        if (v === undefined || !f.Values?.includes(v)) return false;
      } else if (f.Name === 'instance-state-name') {
        if (!f.Values?.includes(inst.State!.Name!)) return false;
      } else throw awsError('InvalidParameterValue', `unknown filter ${f.Name}`, 400);
    }
    return true;
  }

  async describeInstances(input: DescribeInstancesCommandInput) {
    if (input.DryRun)
      throw awsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
    this.describeInputs.push(structuredClone(input));
    const unknown = (input.InstanceIds ?? []).filter(
      (id) => !this.instances.has(id) || this.invisible(this.instances.get(id)),
    );
    if (unknown.length)
      throw awsError(
        'InvalidInstanceID.NotFound',
        `The instance ID '${unknown.join(', ')}' does not exist`,
        400,
      );
    const out: Instance[] = [];
    for (const inst of this.instances.values()) {
      if (!this.matches(inst, input)) continue;
      if (!input.InstanceIds?.length && this.invisible(inst)) continue;
      out.push(this.view(inst));
      if (inst.State!.Name === 'pending' && !inst.held && --inst.pollsUntilRunning < 0) {
        await this.start(inst.InstanceId!);
      } else if (inst.State!.Name === 'shutting-down') {
        inst.State = { Name: 'terminated', Code: 48 };
      }
    }
    return { Reservations: out.length ? [{ Instances: out }] : [] };
  }

  /** Mark instances running now (tests that do not want to wait for polls). */
  async start(id: string): Promise<void> {
    const inst = this.instances.get(id)!;
    inst.held = false;
    inst.State = { Name: 'running', Code: 16 };
    await this.onRunning(inst);
  }

  async terminateInstances(input: TerminateInstancesCommandInput) {
    const ids = input.InstanceIds ?? [];
    // One id EC2 does not know (yet) fails the whole call: nothing is terminated.
    const unknown = ids.filter((id) => !this.instances.has(id) || this.invisible(this.instances.get(id)));
    if (unknown.length)
      throw awsError(
        'InvalidInstanceID.NotFound',
        `The instance ID '${unknown.join(', ')}' does not exist`,
        400,
      );
    const changes = [];
    for (const id of ids) {
      const inst = this.instances.get(id)!;
      const prev = inst.State!.Name;
      if (prev !== 'terminated' && prev !== 'shutting-down') {
        inst.State = { Name: 'shutting-down', Code: 32 };
        inst.StateReason = {
          Code: 'Client.UserInitiatedShutdown',
          Message: 'Client.UserInitiatedShutdown: User initiated shutdown',
        };
        await this.onTerminate(inst);
      }
      changes.push({
        InstanceId: id,
        PreviousState: { Name: prev },
        CurrentState: { Name: inst.State!.Name },
      });
    }
    return { TerminatingInstances: changes };
  }

  /** What the instance does to itself on `shutdown -h now` with terminate behaviour. */
  async selfShutdown(id: string): Promise<void> {
    const inst = this.instances.get(id)!;
    inst.State = { Name: 'shutting-down', Code: 32 };
    inst.StateReason = {
      Code: 'Client.InstanceInitiatedShutdown',
      Message: 'Client.InstanceInitiatedShutdown: Instance initiated shutdown',
    };
    await this.onTerminate(inst);
  }

  sendSshPublicKey(input: SendSSHPublicKeyCommandInput) {
    if (!input.InstanceId || !this.instances.has(input.InstanceId))
      throw awsError('EC2InstanceNotFoundException', 'instance not found', 400);
    if (!input.AvailabilityZone) throw awsError('InvalidArgsException', 'AvailabilityZone required', 400);
    this.pushedKeys.push(structuredClone(input));
    return { RequestId: 'r', Success: true };
  }

  describeSubnets(input: DescribeSubnetsCommandInput) {
    const vpc = input.Filters?.find((f) => f.Name === 'vpc-id')?.Values?.[0];
    return { Subnets: this.subnets.filter((s) => !vpc || s.VpcId === vpc) };
  }

  getParameter(input: GetParameterCommandInput) {
    if (input.Name !== '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64')
      throw awsError('ParameterNotFound', `parameter ${input.Name} not found`, 400);
    return { Parameter: { Name: input.Name, Value: this.amiParameter } };
  }

  private outputs(prefix: string) {
    return [
      {
        OutputKey: 'InstanceProfileArn',
        OutputValue: `arn:aws:iam::${ACCOUNT}:instance-profile/${prefix}-ec2-task`,
      },
      {
        OutputKey: 'ScripthutControllerPolicyArn',
        OutputValue: `arn:aws:iam::${ACCOUNT}:policy/${prefix}-ec2-controller`,
      },
      { OutputKey: 'TaskInstanceRoleArn', OutputValue: `arn:aws:iam::${ACCOUNT}:role/${prefix}-ec2-task` },
      { OutputKey: 'TaskInstanceRoleName', OutputValue: `${prefix}-ec2-task` },
    ];
  }

  createStack(input: CreateStackCommandInput) {
    if (this.stacks.has(input.StackName!))
      throw awsError('AlreadyExistsException', `Stack [${input.StackName}] already exists`, 400);
    if (!input.Capabilities?.includes('CAPABILITY_NAMED_IAM'))
      throw awsError(
        'InsufficientCapabilitiesException',
        'Requires capabilities : [CAPABILITY_NAMED_IAM]',
        400,
      );
    const params = Object.fromEntries(
      (input.Parameters ?? []).map((p) => [p.ParameterKey!, p.ParameterValue!]),
    );
    this.stacks.set(input.StackName!, {
      StackName: input.StackName,
      StackId: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${input.StackName}/1`,
      StackStatus: 'CREATE_IN_PROGRESS',
      CreationTime: new Date(),
      template: input.TemplateBody!,
      params,
      Outputs: [],
    });
    this.stackCalls.push({ op: 'create', input: structuredClone(input) });
    this.pollsLeft.set(input.StackName!, this.stackPolls);
    return { StackId: this.stacks.get(input.StackName!)!.StackId };
  }

  updateStack(input: UpdateStackCommandInput) {
    const s = this.stacks.get(input.StackName!);
    if (!s) throw awsError('ValidationError', `Stack with id ${input.StackName} does not exist`, 400);
    this.stackCalls.push({ op: 'update', input: structuredClone(input) });
    if (s.template === input.TemplateBody)
      throw awsError('ValidationError', 'No updates are to be performed.', 400);
    s.template = input.TemplateBody!;
    s.StackStatus = 'UPDATE_IN_PROGRESS';
    this.pollsLeft.set(input.StackName!, this.stackPolls);
    return { StackId: s.StackId };
  }

  private readonly pollsLeft = new Map<string, number>();

  describeStacks(name: string | undefined) {
    const s = name ? this.stacks.get(name) : undefined;
    if (!s) throw awsError('ValidationError', `Stack with id ${name} does not exist`, 400);
    const left = this.pollsLeft.get(name!) ?? 0;
    if (left <= 0 && s.StackStatus!.endsWith('_IN_PROGRESS')) {
      s.StackStatus = s.StackStatus === 'CREATE_IN_PROGRESS' ? 'CREATE_COMPLETE' : 'UPDATE_COMPLETE';
      s.Outputs = this.outputs(s.params.ResourcePrefix ?? 'scripthut');
    }
    this.pollsLeft.set(name!, left - 1);
    const { template: _t, params: _p, ...rest } = s;
    return { Stacks: [structuredClone(rest)] };
  }

  /** Wire real SDK clients to this fake. */
  install() {
    const ec2 = mockClient(EC2Client);
    ec2.on(RunInstancesCommand).callsFake((i) => this.run('RunInstances', () => this.runInstances(i)));
    ec2
      .on(DescribeInstancesCommand)
      .callsFake((i) => this.run('DescribeInstances', () => this.describeInstances(i)));
    ec2
      .on(TerminateInstancesCommand)
      .callsFake((i) => this.run('TerminateInstances', () => this.terminateInstances(i)));
    ec2.on(DescribeVpcsCommand).callsFake(() => ({ Vpcs: this.vpcs }));
    ec2.on(DescribeSubnetsCommand).callsFake((i) => this.describeSubnets(i));
    const ic = mockClient(EC2InstanceConnectClient);
    ic.on(SendSSHPublicKeyCommand).callsFake((i) =>
      this.run('SendSSHPublicKey', () => this.sendSshPublicKey(i)),
    );
    const ssm = mockClient(SSMClient);
    ssm.on(GetParameterCommand).callsFake((i) => this.getParameter(i));
    const cfn = mockClient(CloudFormationClient);
    cfn.on(CreateStackCommand).callsFake((i) => this.run('CreateStack', () => this.createStack(i)));
    cfn.on(UpdateStackCommand).callsFake((i) => this.run('UpdateStack', () => this.updateStack(i)));
    cfn
      .on(DescribeStacksCommand)
      .callsFake((i) => this.run('DescribeStacks', () => this.describeStacks(i.StackName)));
    const clients = {
      ec2: new EC2Client({
        region: REGION,
        credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' },
      }),
      instanceConnect: new EC2InstanceConnectClient({
        region: REGION,
        credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' },
      }),
      ssm: new SSMClient({
        region: REGION,
        credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' },
      }),
      cloudformation: new CloudFormationClient({
        region: REGION,
        credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' },
      }),
    };
    return {
      clients,
      restore: () => {
        ec2.restore();
        ic.restore();
        ssm.restore();
        cfn.restore();
      },
    };
  }
}
