/**
 * Every YAML snippet of configuration-reference.md (fixtures copied verbatim) loads to exactly the
 * documented values, defaults included.
 */
import { describe, expect, it } from 'vitest';
import {
  BACKEND_EXTRAS,
  BATCH_ARRAY_DEFAULTS,
  DEFAULT_SETTINGS,
  EMPTY,
  HPC_BACKEND,
  load,
  PBS_ARRAY_DEFAULTS,
  SLURM_POLICY_DEFAULTS,
} from './helpers.js';

describe('backend snippets', () => {
  it('slurm', () => {
    expect(load('backend-slurm.yaml')).toEqual({
      ...EMPTY,
      backends: [
        {
          name: 'hpc-cluster',
          type: 'slurm',
          ...BACKEND_EXTRAS,
          ssh: {
            host: 'slurm-login.cluster.edu',
            port: 22,
            user: 'your_username',
            key_path: '/home/tester/.ssh/id_rsa',
            cert_path: '/home/tester/.ssh/id_rsa-cert.pub',
            known_hosts: '/home/tester/.ssh/known_hosts',
            control_path: null,
          },
          account: 'pi-faculty',
          login_shell: false,
          max_concurrent: 100,
          clone_dir: '~/scripthut-repos',
          ...SLURM_POLICY_DEFAULTS,
        },
      ],
    });
  });

  it('pbs', () => {
    expect(load('backend-pbs.yaml').backends).toEqual([
      {
        name: 'pbs-cluster',
        type: 'pbs',
        ...BACKEND_EXTRAS,
        ssh: {
          host: 'pbs-login.cluster.edu',
          port: 22,
          user: 'your_username',
          key_path: '/home/tester/.ssh/id_rsa',
          cert_path: null,
          known_hosts: null,
          control_path: null,
        },
        account: 'my-project',
        login_shell: false,
        max_concurrent: 100,
        queue: 'batch',
        clone_dir: '~/scripthut-repos',
        ...PBS_ARRAY_DEFAULTS,
      },
    ]);
  });

  it('batch, pre-registered locked', () => {
    expect(load('backend-batch-locked.yaml')).toEqual({
      ...EMPTY,
      backends: [
        {
          name: 'aws-batch',
          type: 'batch',
          ...BACKEND_EXTRAS,
          aws: { profile: 'my-profile', region: 'us-east-1', job_queue: 'my-batch-queue' },
          job_definition: 'simpleJobDef-b760b37',
          job_definition_mode: 'locked',
          default_image: null,
          job_role_arn: null,
          execution_role_arn: null,
          retry_attempts: 1,
          log_group: '/aws/batch/job',
          share_identifier: null,
          scheduling_priority: null,
          assign_public_ip: false,
          ...BATCH_ARRAY_DEFAULTS,
          max_concurrent: 50,
        },
      ],
    });
  });

  it('batch, pre-registered revisions', () => {
    expect(load('backend-batch-revisions.yaml').backends).toEqual([
      {
        name: 'aws-batch',
        type: 'batch',
        ...BACKEND_EXTRAS,
        aws: { profile: null, region: 'us-east-1', job_queue: 'my-batch-queue' },
        job_definition: 'simpleJobDef-b760b37',
        job_definition_mode: 'revisions',
        default_image: null,
        job_role_arn: null,
        execution_role_arn: null,
        retry_attempts: 1,
        log_group: '/aws/batch/job',
        share_identifier: null,
        scheduling_priority: null,
        assign_public_ip: false,
        ...BATCH_ARRAY_DEFAULTS,
        max_concurrent: 50,
      },
    ]);
  });

  it('batch, auto-registered', () => {
    expect(load('backend-batch-auto.yaml').backends).toEqual([
      {
        name: 'aws-batch',
        type: 'batch',
        ...BACKEND_EXTRAS,
        aws: { profile: null, region: 'us-east-1', job_queue: 'my-batch-queue' },
        job_definition: null,
        job_definition_mode: 'locked',
        default_image: 'ghcr.io/org/workflow:latest',
        job_role_arn: 'arn:aws:iam::123456789012:role/BatchJobRole',
        execution_role_arn: 'arn:aws:iam::123456789012:role/BatchExec',
        retry_attempts: 1,
        log_group: '/aws/batch/job',
        share_identifier: null,
        scheduling_priority: null,
        assign_public_ip: false,
        ...BATCH_ARRAY_DEFAULTS,
        max_concurrent: 50,
      },
    ]);
  });

  it('batch, CLI profile credentials example', () => {
    expect(load('backend-batch-profile.yaml').backends).toEqual([
      {
        name: 'aws-batch',
        type: 'batch',
        ...BACKEND_EXTRAS,
        aws: { profile: 'scripthut', region: 'us-east-1', job_queue: 'my-queue' },
        job_definition: null,
        job_definition_mode: 'locked',
        default_image: 'ghcr.io/org/image:latest',
        job_role_arn: null,
        execution_role_arn: null,
        retry_attempts: 1,
        log_group: '/aws/batch/job',
        share_identifier: null,
        scheduling_priority: null,
        assign_public_ip: false,
        ...BATCH_ARRAY_DEFAULTS,
        max_concurrent: 100,
      },
    ]);
  });

  it('ec2', () => {
    expect(load('backend-ec2.yaml').backends).toEqual([
      {
        name: 'aws-ec2',
        type: 'ec2',
        ...BACKEND_EXTRAS,
        aws: { profile: 'scripthut', region: 'us-east-2' },
        ami: 'ami-0abc123...',
        subnet_id: 'subnet-0abc...',
        security_group_ids: ['sg-0abc...'],
        instance_types: { default: 'c5.xlarge', gpu: 'g4dn.xlarge' },
        default_image: 'ghcr.io/org/image:latest',
        instance_profile_arn: 'arn:aws:iam::123:instance-profile/ScriptHutTask',
        ssh_user: 'ec2-user',
        max_instances: 20,
        max_concurrent: 100,
        idle_terminate_seconds: 1800,
        startup_timeout_seconds: 600,
        tag_prefix: 'scripthut',
        extra_tags: { Environment: 'research' },
      },
    ]);
  });

  it('ecs (the spec snippet with an image, a role and a subnet)', () => {
    expect(load('backend-ecs-complete.yaml').backends).toEqual([
      {
        name: 'production-ecs',
        type: 'ecs',
        aws: { profile: 'my-aws-profile', region: 'us-east-1', cluster_name: 'my-cluster' },
        max_concurrent: 100,
        task_definition: null,
        container_name: null,
        default_image: 'python:3.12-slim',
        task_role_arn: null,
        execution_role_arn: 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole',
        launch_type: 'FARGATE',
        subnets: ['subnet-0abc1234'],
        security_groups: [],
        assign_public_ip: true,
        log_group: '/scripthut/ecs',
        env: [],
        env_groups: {},
      },
    ]);
  });
});

describe('source snippets', () => {
  it('git source', () => {
    expect(load('source-git.yaml')).toEqual({
      ...EMPTY,
      backends: [HPC_BACKEND],
      sources: [
        {
          name: 'ml-jobs',
          type: 'git',
          url: 'git@github.com:your-org/ml-pipelines.git',
          branch: 'main',
          deploy_key: '/home/tester/.ssh/ml-jobs-deploy-key',
          backend: 'hpc-cluster',
          workflows_glob: '.hut/workflows/*.json',
          clone_dir: '~/scripthut-repos',
          postclone: null,
          array: null,
        },
      ],
    });
  });

  it('path source', () => {
    expect(load('source-path.yaml').sources).toEqual([
      {
        name: 'shared-workflows',
        type: 'path',
        path: '/shared/project-workflows',
        backend: 'hpc-cluster',
        workflows_glob: '.hut/workflows/*.json',
        array: null,
      },
    ]);
  });
});

describe('workflow, project, environment, pricing and settings snippets', () => {
  it('basic workflow', () => {
    expect(load('workflow-basic.yaml').workflows).toEqual([
      {
        name: 'ml-training',
        backend: 'hpc-cluster',
        command: 'python /shared/scripts/get_training_tasks.py',
        max_concurrent: 5,
        description: 'ML model training pipeline',
        git: null,
        array: null,
      },
    ]);
  });

  it('git workflow: deploy_key expanded locally, clone_dir left for the backend', () => {
    expect(load('workflow-git.yaml').workflows).toEqual([
      {
        name: 'ml-training-git',
        backend: 'hpc-cluster',
        git: {
          repo: 'git@github.com:your-org/ml-pipelines.git',
          branch: 'main',
          deploy_key: '/home/tester/.ssh/ml-deploy-key',
          clone_dir: '~/scripthut-repos',
          postclone: 'rm -rf large_files',
        },
        command: 'python get_tasks.py',
        max_concurrent: 5,
        description: 'ML training from git repo',
        array: null,
      },
    ]);
  });

  it('projects', () => {
    expect(load('projects.yaml').projects).toEqual([
      {
        name: 'my-project',
        backend: 'hpc-cluster',
        path: '/home/user/my-project',
        max_concurrent: 10,
        description: 'My research project',
        array: null,
      },
    ]);
  });

  it('environments', () => {
    expect(load('environments.yaml')).toEqual({
      ...EMPTY,
      environments: [
        {
          name: 'julia-1.10',
          variables: { JULIA_DEPOT_PATH: '/scratch/user/julia_depot', JULIA_NUM_THREADS: '8' },
          secret_variables: [],
          extra_init: 'module load julia/1.10',
        },
        {
          name: 'python-ml',
          variables: { CUDA_VISIBLE_DEVICES: '0,1', PYTHONPATH: '/home/user/libs' },
          secret_variables: [],
          extra_init: 'module load cuda/12.0\nsource /home/user/venvs/ml/bin/activate\n',
        },
      ],
    });
  });

  it('pricing, with the price_source / cache_hours defaults', () => {
    expect(load('pricing.yaml')).toEqual({
      ...EMPTY,
      pricing: {
        region: 'us-east-1',
        price_type: 'spot_avg',
        partitions: { standard: 'c5.xlarge', gpu: 'p3.2xlarge', highmem: 'r5.4xlarge' },
        price_source: 'https://instances.vantage.sh/instances.json',
        cache_hours: 24,
      },
    });
  });

  it('settings', () => {
    expect(load('settings.yaml')).toEqual({
      ...EMPTY,
      settings: {
        poll_interval: 60,
        server_host: '127.0.0.1',
        server_port: 8000,
        data_dir: '/home/tester/.cache/scripthut',
        sources_cache_dir: '/home/tester/.cache/scripthut/sources',
        filter_user: 'your_username',
        retention_days: 30,
        auth_token: null,
        allowed_hosts: [],
        tls_cert: null,
        tls_key: null,
      },
    });
  });
});

describe('complete example', () => {
  it('loads every section with documented values and defaults', () => {
    const sshDefaults = {
      port: 22,
      key_path: '/home/tester/.ssh/id_rsa',
      cert_path: null,
      known_hosts: null,
      control_path: null,
    };
    expect(load('complete-example.yaml')).toEqual({
      backends: [
        {
          name: 'hpc-cluster',
          type: 'slurm',
          ...BACKEND_EXTRAS,
          ssh: { host: 'slurm-login.cluster.edu', user: 'researcher', ...sshDefaults },
          account: 'pi-faculty',
          login_shell: true,
          max_concurrent: 50,
          clone_dir: '~/scripthut-repos',
          ...SLURM_POLICY_DEFAULTS,
        },
        {
          name: 'pbs-cluster',
          type: 'pbs',
          ...BACKEND_EXTRAS,
          ssh: { host: 'pbs-login.cluster.edu', user: 'researcher', ...sshDefaults },
          account: null,
          login_shell: false,
          max_concurrent: 100,
          queue: 'batch',
          clone_dir: '~/scripthut-repos',
          ...PBS_ARRAY_DEFAULTS,
        },
      ],
      sources: [
        {
          name: 'ml-jobs',
          type: 'git',
          url: 'git@github.com:my-org/ml-pipelines.git',
          branch: 'main',
          deploy_key: '/home/tester/.ssh/ml-deploy-key',
          backend: 'hpc-cluster',
          workflows_glob: '.hut/workflows/*.json',
          clone_dir: '~/scripthut-repos',
          postclone: null,
          array: null,
        },
      ],
      workflows: [
        {
          name: 'simple-tasks',
          backend: 'hpc-cluster',
          command: 'python /shared/scripts/generate_tasks.py --count 10',
          max_concurrent: 5,
          description: 'Simple test tasks',
          git: null,
          array: null,
        },
        {
          name: 'ml-training',
          backend: 'hpc-cluster',
          git: {
            repo: 'git@github.com:my-org/ml-pipelines.git',
            branch: 'main',
            deploy_key: '/home/tester/.ssh/ml-deploy-key',
            clone_dir: '~/scripthut-repos',
            postclone: null,
          },
          command: 'python generate_tasks.py',
          max_concurrent: 3,
          description: 'ML training pipeline from git',
          array: null,
        },
      ],
      projects: [],
      env: [],
      env_groups: {},
      environments: [
        {
          name: 'julia-env',
          variables: { JULIA_DEPOT_PATH: '/scratch/researcher/julia_depot', JULIA_NUM_THREADS: '8' },
          secret_variables: [],
          extra_init: 'module load julia/1.10',
        },
      ],
      pricing: {
        region: 'us-east-1',
        price_type: 'spot_avg',
        partitions: { normal: 'c5.xlarge', gpu: 'p3.2xlarge' },
        price_source: 'https://instances.vantage.sh/instances.json',
        cache_hours: 24,
      },
      settings: { ...DEFAULT_SETTINGS, poll_interval: 30, filter_user: 'researcher' },
    });
  });
});
