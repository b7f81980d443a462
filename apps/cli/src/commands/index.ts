/** The command tree. Subcommands load lazily: `scripthut run list` imports only what it needs. */
import { group, lazy } from '../command.js';
import { VERSION } from '../version.js';

export const rootCommand = group(
  {
    name: 'scripthut',
    version: VERSION,
    description: 'Run and watch batch work on Slurm, PBS, AWS and your own machine',
  },
  {
    serve: lazy(() => import('./serve.js')),
    daemon: lazy(() => import('./daemon/index.js')),
    open: lazy(() => import('./open.js')),
    config: lazy(() => import('./config/index.js')),
    backend: lazy(() => import('./backend/index.js')),
    login: lazy(() => import('./login.js')),
    jobs: lazy(() => import('./jobs.js')),
    workflow: lazy(() => import('./workflow/index.js')),
    source: lazy(() => import('./source/index.js')),
    project: lazy(() => import('./project/index.js')),
    run: lazy(() => import('./run/index.js')),
    task: lazy(() => import('./task/index.js')),
    cost: lazy(() => import('./cost.js')),
    'setup-aws-ec2': lazy(() => import('./setup-aws-ec2.js')),
    completion: lazy(() => import('./completion.js')),
    __complete: lazy(() => import('./complete.js')),
  },
  [
    'scripthut workflow run demo          # starts the background daemon if needed',
    'scripthut run list --status failed',
    'scripthut run watch 1a2b             # a unique prefix of a run id is enough',
    'scripthut daemon status',
    'scripthut serve --port 8000          # the control plane in the foreground (systemd, tmux)',
  ],
);
