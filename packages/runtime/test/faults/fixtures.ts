/** Shared fixtures of the fault tests. */

/** The "Complete Example" of configuration-reference.md, verbatim. */
export const COMPLETE_EXAMPLE = `backends:
  - name: hpc-cluster
    type: slurm
    ssh:
      host: slurm-login.cluster.edu
      port: 22
      user: researcher
      key_path: ~/.ssh/id_rsa
    account: pi-faculty
    login_shell: true
    max_concurrent: 50

  - name: pbs-cluster
    type: pbs
    ssh:
      host: pbs-login.cluster.edu
      user: researcher
      key_path: ~/.ssh/id_rsa
    queue: batch

sources:
  - name: ml-jobs
    type: git
    url: git@github.com:my-org/ml-pipelines.git
    branch: main
    deploy_key: ~/.ssh/ml-deploy-key
    backend: hpc-cluster

workflows:
  - name: simple-tasks
    backend: hpc-cluster
    command: "python /shared/scripts/generate_tasks.py --count 10"
    max_concurrent: 5
    description: "Simple test tasks"

  - name: ml-training
    backend: hpc-cluster
    git:
      repo: git@github.com:my-org/ml-pipelines.git
      branch: main
      deploy_key: ~/.ssh/ml-deploy-key
      clone_dir: ~/scripthut-repos
    command: "python generate_tasks.py"
    max_concurrent: 3
    description: "ML training pipeline from git"

environments:
  - name: julia-env
    variables:
      JULIA_DEPOT_PATH: "/scratch/researcher/julia_depot"
      JULIA_NUM_THREADS: "8"
    extra_init: "module load julia/1.10"

pricing:
  region: us-east-1
  price_type: spot_avg
  partitions:
    normal: c5.xlarge
    gpu: p3.2xlarge

settings:
  poll_interval: 30
  server_host: 127.0.0.1
  server_port: 8000
  data_dir: ~/.cache/scripthut
  filter_user: researcher
`;

/**
 * The same document as a plain object (YAML is a superset of JSON, so `JSON.stringify` of a mutated
 * copy is a valid YAML config text). The fuzz test checks that both validate to the same config.
 */
export const COMPLETE_EXAMPLE_OBJECT = {
  backends: [
    {
      name: 'hpc-cluster',
      type: 'slurm',
      ssh: { host: 'slurm-login.cluster.edu', port: 22, user: 'researcher', key_path: '~/.ssh/id_rsa' },
      account: 'pi-faculty',
      login_shell: true,
      max_concurrent: 50,
    },
    {
      name: 'pbs-cluster',
      type: 'pbs',
      ssh: { host: 'pbs-login.cluster.edu', user: 'researcher', key_path: '~/.ssh/id_rsa' },
      queue: 'batch',
    },
  ],
  sources: [
    {
      name: 'ml-jobs',
      type: 'git',
      url: 'git@github.com:my-org/ml-pipelines.git',
      branch: 'main',
      deploy_key: '~/.ssh/ml-deploy-key',
      backend: 'hpc-cluster',
    },
  ],
  workflows: [
    {
      name: 'simple-tasks',
      backend: 'hpc-cluster',
      command: 'python /shared/scripts/generate_tasks.py --count 10',
      max_concurrent: 5,
      description: 'Simple test tasks',
    },
    {
      name: 'ml-training',
      backend: 'hpc-cluster',
      git: {
        repo: 'git@github.com:my-org/ml-pipelines.git',
        branch: 'main',
        deploy_key: '~/.ssh/ml-deploy-key',
        clone_dir: '~/scripthut-repos',
      },
      command: 'python generate_tasks.py',
      max_concurrent: 3,
      description: 'ML training pipeline from git',
    },
  ],
  environments: [
    {
      name: 'julia-env',
      variables: { JULIA_DEPOT_PATH: '/scratch/researcher/julia_depot', JULIA_NUM_THREADS: '8' },
      extra_init: 'module load julia/1.10',
    },
  ],
  pricing: {
    region: 'us-east-1',
    price_type: 'spot_avg',
    partitions: { normal: 'c5.xlarge', gpu: 'p3.2xlarge' },
  },
  settings: {
    poll_interval: 30,
    server_host: '127.0.0.1',
    server_port: 8000,
    data_dir: '~/.cache/scripthut',
    filter_user: 'researcher',
  },
};
