import { resolve } from 'node:path';
import { command } from '../command.js';

export default command({
  meta: {
    name: 'setup-aws-ec2',
    description:
      'Guided setup of an AWS EC2 backend: default VPC/subnet, latest AL2023 AMI, the IAM CloudFormation stack, the backend stanza in scripthut.yaml (backed up first, comments kept), a smoke test',
  },
  args: {
    region: { type: 'string', description: 'AWS region (else AWS_REGION or a prompt)', valueHint: 'region' },
    profile: {
      type: 'string',
      description: 'AWS CLI profile (else the default credential chain)',
      valueHint: 'name',
    },
    'backend-name': {
      type: 'string',
      description: 'Backend name to write (default aws-ec2)',
      valueHint: 'name',
    },
    'stack-name': {
      type: 'string',
      description: 'CloudFormation stack (default scripthut-ec2-iam)',
      valueHint: 'name',
    },
    'non-interactive': { type: 'boolean', description: 'Fail instead of prompting for missing values' },
  },
  examples: [
    'scripthut setup-aws-ec2',
    'scripthut setup-aws-ec2 --region us-east-2 --profile scripthut --non-interactive -c scripthut.yaml',
  ],
  async run(args, ctx) {
    const { setupAwsEc2 } = await import('@scripthut/backend-ec2');
    const { validateConfigText } = await import('@scripthut/config');
    const result = await setupAwsEc2({
      ...(args.region ? { region: args.region } : {}),
      ...(args.profile ? { profile: args.profile } : {}),
      ...(args['backend-name'] ? { backendName: args['backend-name'] } : {}),
      ...(args['stack-name'] ? { stackName: args['stack-name'] } : {}),
      configPath: resolve(ctx.cwd, ctx.globals.config ?? 'scripthut.yaml'),
      nonInteractive: args['non-interactive'] === true || !process.stdin.isTTY,
      log: (line) => ctx.out.info(line),
      validateConfig: (text, path) => validateConfigText(text, path, { checkFiles: false }).issues,
    });
    ctx.out.result(result, () =>
      [
        `backend "${String(result.backend.name)}" written to ${result.configPath}${result.backupPath ? ` (backup: ${result.backupPath})` : ''}`,
        `stack: ${result.stackAction}; smoke test: ${result.smokeTest.ok ? 'ok' : `failed — ${result.smokeTest.message}`}`,
        'Still to do by hand (attach the controller policy to the principal ScriptHut runs as):',
        ...result.attachCommands.map((c) => `  ${c}`),
      ].join('\n'),
    );
    return result.smokeTest.ok ? 0 : 1;
  },
});
