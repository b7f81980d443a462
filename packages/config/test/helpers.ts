import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '../src/index.js';

export const HOME = '/home/tester';
export const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
/** Loads a fixture with a fixed home directory and no file-existence checks. */
export const load = (name: string) =>
  parseConfigText(fixture(name), name, { homeDir: HOME, checkFiles: false }).config;

/** Defaults of the env-rule and partition_map fields of slurm, pbs, batch and ec2 backends. */
export const BACKEND_EXTRAS = { partition_map: {}, env: [], env_groups: {} };
/** Defaults of the env-rule fields of local backends. */
export const LOCAL_EXTRAS = { env: [], env_groups: {} };

/** The slurm backend appended to snippets that reference `hpc-cluster`. */
/** Site-policy fields of a Slurm backend when the file sets none. */
export const SLURM_POLICY_DEFAULTS = {
  qos: null,
  constraint: null,
  reservation: null,
  exclusive: null,
  clusters: null,
  extra_directives: [],
  array: 'auto',
  array_min_size: 2,
};

/** Array fields of a PBS backend when the file sets none (`array: auto`). */
export const PBS_ARRAY_DEFAULTS = { array: 'auto', array_min_size: 2 };
/** A batch backend's job-array defaults (`array: auto`). */
export const BATCH_ARRAY_DEFAULTS = { array: 'auto', array_min_size: 2 };

export const HPC_BACKEND = {
  name: 'hpc-cluster',
  type: 'slurm',
  ...BACKEND_EXTRAS,
  ssh: {
    host: 'slurm-login.cluster.edu',
    port: 22,
    user: 'your_username',
    key_path: '/home/tester/.ssh/id_rsa',
    cert_path: null,
    known_hosts: null,
    control_path: null,
  },
  account: null,
  login_shell: false,
  max_concurrent: 100,
  clone_dir: '~/scripthut-repos',
  ...SLURM_POLICY_DEFAULTS,
};

export const DEFAULT_SETTINGS = {
  poll_interval: 60,
  server_host: '127.0.0.1',
  server_port: 8000,
  data_dir: '/home/tester/.cache/scripthut',
  sources_cache_dir: '/home/tester/.cache/scripthut/sources',
  filter_user: null,
  retention_days: 30,
  auth_token: null,
  allowed_hosts: [],
  tls_cert: null,
  tls_key: null,
};

export const EMPTY = {
  backends: [],
  sources: [],
  workflows: [],
  projects: [],
  environments: [],
  env: [],
  env_groups: {},
  pricing: null,
  settings: DEFAULT_SETTINGS,
};
