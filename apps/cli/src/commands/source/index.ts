import { group, lazy } from '../../command.js';

export default group(
  { name: 'source', description: 'Workflow sources (git repositories, paths): list, sync, run a file' },
  {
    list: lazy(() => import('./list.js')),
    sync: lazy(() => import('./sync.js')),
    run: lazy(() => import('./run.js')),
  },
);
