import { group, lazy } from '../../command.js';

export default group(
  { name: 'backend', description: 'Compute backends: list them, show their status' },
  {
    list: lazy(() => import('./list.js')),
    status: lazy(() => import('./status.js')),
  },
);
