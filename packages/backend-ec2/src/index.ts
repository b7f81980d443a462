/**
 * `@scripthut/backend-ec2` — one EC2 instance per task. Launch/terminate through the EC2 API,
 * completion and logs over SSH tunnelled through SSM Session Manager with a one-shot key pushed by
 * EC2 Instance Connect; three safety layers (self-shutdown timer, hard `timeout`, startup
 * reconciler); and the guided `setup-aws-ec2`.
 */

export {
  createEc2Backend,
  type Ec2Backend,
  type Ec2BackendOptions,
  type Ec2Logger,
} from './backend.js';
export { type AwsErrorKind, classifyAwsError, EC2_CAPACITY_ERRORS, type RetryPolicy } from './capacity.js';
export { EC2_IAM_TEMPLATE } from './cfn-template.js';
export type { Verdict } from './context.js';
export { type EphemeralKey, generateEphemeralKey } from './keys.js';
export { MAX_USER_DATA, METADATA_OPTIONS } from './launch.js';
export {
  CONTAINER_SCRIPT_PATH,
  containerEnvAndDir,
  type EcrRegistry,
  ecrRegistryOf,
  effectiveTimeLimit,
  instanceTags,
  instanceTypeFor,
  LOG_DIR,
  REASON_PATH,
  RUN_DIR,
  renderTaskScript,
  renderUserData,
  SENTINEL_PATH,
  TASK_LOG_PATH,
  tagKeys,
  type UserDataOptions,
  wantsGpu,
} from './mapping.js';
export { type Ec2BackendConfig, ec2Backend, ec2ConfigSchema } from './plugin.js';
export { InstanceSession, type RemoteRange, type SessionDeps } from './session.js';
export {
  AL2023_AMI_PARAMETER,
  addBackendToConfigText,
  backupStamp,
  type SetupAwsEc2Options,
  type SetupAwsEc2Result,
  setupAwsEc2,
} from './setup.js';
export { INSTANCE_NOT_FOUND } from './terminate.js';
export {
  connectTcp,
  freePort,
  SsmTunnelFactory,
  type SsmTunnelOptions,
  ssmSessionArgs,
  type Tunnel,
  type TunnelFactory,
  type TunnelTarget,
} from './tunnel.js';
