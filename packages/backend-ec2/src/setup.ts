/**
 * `scripthut setup-aws-ec2`: from zero to a working EC2 backend. Discovers the default VPC and a
 * subnet, looks up the latest Amazon Linux 2023 AMI (stock: docker is installed by each task's
 * user-data at boot, which costs a package install per task), deploys the IAM CloudFormation stack, appends
 * the backend stanza to scripthut.yaml (after a timestamped backup, keeping the file's comments),
 * runs a smoke test and prints the policy-attach command that is left to do by hand.
 */
import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
  type Parameter,
  type Stack,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import {
  DescribeInstancesCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { awsCredentials, errorText, realSleep, type Sleep } from '@scripthut/aws-common';
import { ScriptHutError } from '@scripthut/core';
import { isMap, isSeq, parseDocument, type YAMLSeq } from 'yaml';
import { EC2_IAM_TEMPLATE } from './cfn-template.js';
import { ec2ConfigSchema } from './plugin.js';

/** SSM public parameter of the latest Amazon Linux 2023 AMI (x86_64). */
export const AL2023_AMI_PARAMETER = '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

/** Options of {@link setupAwsEc2} (each one skips the matching prompt). */
export interface SetupAwsEc2Options {
  region?: string;
  profile?: string;
  /** Default `aws-ec2`. */
  backendName?: string;
  /** Default `scripthut-ec2-iam`. */
  stackName?: string;
  /** Default `./scripthut.yaml` (created when missing). */
  configPath?: string;
  /** Fail instead of prompting; defaults are taken where they exist. */
  nonInteractive?: boolean;
  /** Asks one question; resolves to the answer ('' keeps the default). Default: readline on stdin. */
  prompt?: (question: string, defaultValue: string) => Promise<string>;
  /** Injected SDK clients (tests). */
  clients?: { ec2?: EC2Client; ssm?: SSMClient; cloudformation?: CloudFormationClient };
  /** Progress output (default console.log). */
  log?: (line: string) => void;
  /** Overrides of discovered values. */
  ami?: string;
  subnetId?: string;
  defaultImage?: string;
  /** `ResourcePrefix` stack parameter (default `scripthut`). */
  resourcePrefix?: string;
  /** `EnableECRReadAccess` stack parameter (default true). */
  enableEcrReadAccess?: boolean;
  /** Stack waiter: poll interval (default 5000 ms) and attempts (default 60). */
  waiter?: { delayMs?: number; maxAttempts?: number };
  sleep?: Sleep;
  /** Clock for the backup file name. */
  now?: () => Date;
  /**
   * Validates the whole config text after the backend was added: its problems, each with the
   * field path (`backends[2].ami`). The CLI passes the configuration loader's validation; by
   * default only the generated backend is checked against the EC2 plugin's schema.
   */
  validateConfig?: (text: string, configPath: string) => { path: string; message: string }[];
}

/** The default of {@link SetupAwsEc2Options.validateConfig}: the generated entry against its schema. */
function validateStanza(
  backend: Record<string, unknown>,
  index: number,
): { path: string; message: string }[] {
  const { name: _name, type: _type, ...fields } = backend;
  const r = ec2ConfigSchema.safeParse(fields);
  if (r.success) return [];
  return r.error.issues.map((i) => ({
    path: [`backends[${index}]`, ...i.path.map(String)].join('.'),
    message: i.message,
  }));
}

/** What {@link setupAwsEc2} did. */
export interface SetupAwsEc2Result {
  region: string;
  configPath: string;
  /** `<config>.bak.<YYYYMMDD-HHMMSS>`, or null when the config file did not exist. */
  backupPath: string | null;
  /** The backend stanza written to the config. */
  backend: Record<string, unknown>;
  /** Whether an existing backend of the same name was replaced. */
  replaced: boolean;
  /** Stack outputs (InstanceProfileArn, ScripthutControllerPolicyArn, TaskInstanceRoleArn, TaskInstanceRoleName). */
  outputs: Record<string, string>;
  stackAction: 'created' | 'updated' | 'unchanged';
  smokeTest: { ok: boolean; message: string };
  /** The commands left to run by hand (attach the controller policy). */
  attachCommands: string[];
}

function fail(message: string): never {
  throw new ScriptHutError('validation_failed', message);
}

/** `YYYYMMDD-HHMMSS` in local time. */
export function backupStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

async function readlinePrompt(question: string, def: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(def ? `${question} [${def}]: ` : `${question}: `);
  } finally {
    rl.close();
  }
}

/**
 * Add (or replace, by name) a backend in the `backends:` list of a scripthut.yaml text, keeping
 * every comment and the formatting of untouched parts. Returns the new text.
 */
export function addBackendToConfigText(
  text: string,
  backend: Record<string, unknown> & { name: string },
): { text: string; replaced: boolean; index: number } {
  const doc = parseDocument(text.trim() === '' ? '{}' : text);
  if (doc.errors.length) fail(`the config file is not valid YAML: ${doc.errors[0]!.message}`);
  if (doc.contents === null || !isMap(doc.contents)) {
    if (text.trim() === '' || doc.contents === null)
      doc.contents = doc.createNode({}) as unknown as typeof doc.contents;
    else fail('the config file must be a YAML mapping');
  }
  let seq = doc.get('backends', true);
  if (seq === undefined || seq === null || (!isSeq(seq) && (seq as { value?: unknown }).value === null)) {
    seq = doc.createNode([]);
    doc.set('backends', seq);
  }
  if (!isSeq(seq)) fail('`backends` in the config file is not a list');
  const list = seq as YAMLSeq;
  const node = doc.createNode(backend);
  const index = list.items.findIndex((item) => isMap(item) && item.get('name') === backend.name);
  const at = index >= 0 ? index : list.items.length;
  if (index >= 0) {
    const old = list.items[index] as { commentBefore?: string | null };
    (node as { commentBefore?: string | null }).commentBefore = old.commentBefore ?? null;
    list.items[index] = node;
  } else {
    list.items.push(node);
  }
  return { text: doc.toString({ lineWidth: 0 }), replaced: index >= 0, index: at };
}

/**
 * Run the guided setup.
 *
 * @example
 * ```ts
 * const result = await setupAwsEc2({ region: 'us-east-2', nonInteractive: true });
 * console.log(result.attachCommands.join('\n'));
 * ```
 */
export async function setupAwsEc2(options: SetupAwsEc2Options = {}): Promise<SetupAwsEc2Result> {
  const log = options.log ?? ((line: string) => console.log(line));
  const prompt = options.prompt ?? readlinePrompt;
  const interactive = !options.nonInteractive;
  const sleep = options.sleep ?? realSleep;
  const backendName = options.backendName ?? 'aws-ec2';
  const stackName = options.stackName ?? 'scripthut-ec2-iam';
  const configPath = options.configPath ?? './scripthut.yaml';
  const prefix = options.resourcePrefix ?? 'scripthut';

  async function ask(question: string, def: string): Promise<string> {
    if (!interactive) {
      if (!def) fail(`${question}: no value and --non-interactive is set`);
      return def;
    }
    const answer = (await prompt(question, def)).trim();
    return answer || def;
  }

  // 1. Region and credentials.
  let region = options.region ?? '';
  if (!region) {
    const envRegion = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? '';
    if (!interactive && !envRegion)
      fail('an AWS region is required: pass --region (or set AWS_REGION) when using --non-interactive');
    region = await ask('AWS region', envRegion || 'us-east-1');
  }
  const profile = options.profile ?? null;
  const credentials = awsCredentials(profile);
  const ec2 = options.clients?.ec2 ?? new EC2Client({ region, credentials });
  const ssm = options.clients?.ssm ?? new SSMClient({ region, credentials });
  const cfn = options.clients?.cloudformation ?? new CloudFormationClient({ region, credentials });
  log(`Region ${region}${profile ? `, profile ${profile}` : ''}`);

  // 2. Default VPC and a subnet (public-IP-on-launch preferred: the SSM agent needs egress).
  let subnetId = options.subnetId ?? '';
  if (!subnetId) {
    const vpcs = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }),
    );
    const vpc = vpcs.Vpcs?.find((v) => v.IsDefault) ?? vpcs.Vpcs?.[0];
    let suggested = '';
    if (vpc?.VpcId) {
      const res = await ec2.send(
        new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId] }] }),
      );
      const subnets = (res.Subnets ?? [])
        .filter((s) => s.SubnetId && (s.State ?? 'available') === 'available')
        .sort(
          (a, b) =>
            Number(!!b.MapPublicIpOnLaunch) - Number(!!a.MapPublicIpOnLaunch) ||
            (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? ''),
        );
      suggested = subnets[0]?.SubnetId ?? '';
      log(
        `Default VPC ${vpc.VpcId}: ${subnets.length} subnet(s)${suggested ? `, suggesting ${suggested}` : ''}`,
      );
    } else {
      log('No default VPC in this region: enter a subnet id.');
    }
    subnetId = await ask('Subnet for task instances', suggested);
  }

  // 3. AMI.
  let ami = options.ami ?? '';
  if (!ami) {
    let latest = '';
    try {
      const p = await ssm.send(new GetParameterCommand({ Name: AL2023_AMI_PARAMETER }));
      latest = p.Parameter?.Value ?? '';
      log(
        `Latest Amazon Linux 2023 AMI: ${latest} (it has sshd, the SSM Agent and ec2-instance-connect; ` +
          'docker is only in its package repository, so each task instance installs it at boot)',
      );
    } catch (err) {
      log(`Could not look up the Amazon Linux 2023 AMI: ${errorText(err)}`);
    }
    ami = await ask(
      'AMI (needs sshd, SSM Agent, ec2-instance-connect; docker is installed at boot when missing)',
      latest,
    );
  }
  const defaultImage =
    options.defaultImage ??
    (await ask('Default container image', 'public.ecr.aws/docker/library/ubuntu:24.04'));

  // 4. IAM stack (create or update) and its outputs.
  const parameters: Parameter[] = [
    { ParameterKey: 'ResourcePrefix', ParameterValue: prefix },
    {
      ParameterKey: 'EnableECRReadAccess',
      ParameterValue: options.enableEcrReadAccess === false ? 'false' : 'true',
    },
  ];
  const describeStack = async (): Promise<Stack | null> => {
    try {
      const res = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
      return res.Stacks?.[0] ?? null;
    } catch (err) {
      if (/does not exist/i.test(errorText(err))) return null;
      throw err;
    }
  };
  const existing = await describeStack();
  let stackAction: SetupAwsEc2Result['stackAction'];
  const stackInput = {
    StackName: stackName,
    TemplateBody: EC2_IAM_TEMPLATE,
    Capabilities: ['CAPABILITY_NAMED_IAM' as const],
    Parameters: parameters,
    Tags: [{ Key: `${prefix}:managed-by`, Value: 'scripthut setup-aws-ec2' }],
  };
  if (!existing || existing.StackStatus === 'DELETE_COMPLETE') {
    log(`Creating CloudFormation stack ${stackName}...`);
    await cfn.send(new CreateStackCommand(stackInput));
    stackAction = 'created';
  } else if (existing.StackStatus === 'ROLLBACK_COMPLETE') {
    fail(
      `stack ${stackName} is in ROLLBACK_COMPLETE and cannot be updated: delete it (aws cloudformation delete-stack --stack-name ${stackName}) and run setup again`,
    );
  } else {
    log(`Updating CloudFormation stack ${stackName}...`);
    try {
      await cfn.send(new UpdateStackCommand(stackInput));
      stackAction = 'updated';
    } catch (err) {
      if (!/No updates are to be performed/i.test(errorText(err))) throw err;
      log('Stack is up to date.');
      stackAction = 'unchanged';
    }
  }
  let stack: Stack | null = existing;
  if (stackAction !== 'unchanged') {
    const delay = options.waiter?.delayMs ?? 5000;
    const attempts = options.waiter?.maxAttempts ?? 60;
    for (let i = 0; ; i++) {
      stack = await describeStack();
      const st = stack?.StackStatus ?? 'MISSING';
      if (st === 'CREATE_COMPLETE' || st === 'UPDATE_COMPLETE') break;
      if (!st.endsWith('_IN_PROGRESS') || st.includes('ROLLBACK')) {
        fail(
          `stack ${stackName} ended in ${st}${stack?.StackStatusReason ? `: ${stack.StackStatusReason}` : ''}`,
        );
      }
      if (i + 1 >= attempts)
        fail(`stack ${stackName} still ${st} after ${Math.round((attempts * delay) / 1000)} s`);
      await sleep(delay);
    }
    log(`Stack ${stackName}: ${stack?.StackStatus}`);
  }
  const outputs: Record<string, string> = {};
  for (const o of stack?.Outputs ?? [])
    if (o.OutputKey && o.OutputValue) outputs[o.OutputKey] = o.OutputValue;
  for (const k of ['InstanceProfileArn', 'ScripthutControllerPolicyArn']) {
    if (!outputs[k]) fail(`stack ${stackName} has no ${k} output`);
  }

  // 5. The backend stanza, appended after a timestamped backup (comments kept).
  const backend: Record<string, unknown> & { name: string } = {
    name: backendName,
    type: 'ec2',
    aws: profile ? { profile, region } : { region },
    ami,
    subnet_id: subnetId,
    instance_types: { default: 'c5.xlarge' },
    default_image: defaultImage,
    instance_profile_arn: outputs.InstanceProfileArn,
    ssh_user: 'ec2-user',
    max_instances: 20,
    idle_terminate_seconds: 1800,
    startup_timeout_seconds: 600,
    tag_prefix: prefix,
  };
  const before = existsSync(configPath) ? readFileSync(configPath, 'utf8') : '';
  const { text, replaced, index } = addBackendToConfigText(before, backend);
  const issues = options.validateConfig
    ? options.validateConfig(text, configPath)
    : validateStanza(backend, index);
  const ours = issues.filter((i) => i.path.startsWith(`backends[${index}]`));
  if (ours.length) fail(`the generated backend does not validate: ${ours[0]!.path}: ${ours[0]!.message}`);
  for (const i of issues) log(`warning: ${configPath}: ${i.path}: ${i.message} (not changed by setup)`);
  let backupPath: string | null = null;
  if (existsSync(configPath)) {
    backupPath = `${configPath}.bak.${backupStamp((options.now ?? (() => new Date()))())}`;
    copyFileSync(configPath, backupPath);
    log(`Backup: ${backupPath}`);
  }
  writeFileSync(`${configPath}.tmp`, text);
  renameSync(`${configPath}.tmp`, configPath);
  log(`${replaced ? 'Replaced' : 'Added'} backend "${backendName}" in ${configPath}`);

  // 6. Smoke test: may these credentials talk to EC2 here? (DryRun: nothing is read or changed.)
  let smokeTest: { ok: boolean; message: string };
  try {
    await ec2.send(new DescribeInstancesCommand({ DryRun: true, MaxResults: 5 }));
    smokeTest = { ok: true, message: 'ec2:DescribeInstances answered' };
  } catch (err) {
    const name = (err as { name?: string }).name ?? '';
    smokeTest =
      name === 'DryRunOperation'
        ? { ok: true, message: 'credentials may call ec2:DescribeInstances' }
        : { ok: false, message: `ec2:DescribeInstances (dry run) failed: ${errorText(err)}` };
  }
  log(`Smoke test: ${smokeTest.ok ? 'OK' : 'FAILED'} (${smokeTest.message})`);

  // 7. What is left to do by hand.
  const policy = outputs.ScripthutControllerPolicyArn!;
  const attachCommands = [
    `aws iam attach-user-policy --user-name <your-iam-user> --policy-arn ${policy}`,
    `aws iam attach-role-policy --role-name <role-scripthut-runs-as> --policy-arn ${policy}`,
  ];
  log('Last step, by hand: attach the controller policy to the principal ScriptHut runs as:');
  for (const c of attachCommands) log(`  ${c}`);
  log('ScriptHut also needs the aws CLI and session-manager-plugin on PATH.');
  return {
    region,
    configPath,
    backupPath,
    backend,
    replaced,
    outputs,
    stackAction,
    smokeTest,
    attachCommands,
  };
}
