import { group, lazy } from '../../command.js';

export default group(
  { name: 'task', description: 'Ad-hoc tasks' },
  {
    run: lazy(() => import('./run.js')),
  },
);
