import { group, lazy } from '../../command.js';

export default group(
  { name: 'workflow', description: 'Configured workflows: list, dry-run, run' },
  {
    list: lazy(() => import('./list.js')),
    'dry-run': lazy(() => import('./dry-run.js')),
    run: lazy(() => import('./run.js')),
  },
);
