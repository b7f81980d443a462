import { group, lazy } from '../../command.js';

export default group(
  { name: 'project', description: 'Projects with sflow.json files: list, run' },
  {
    list: lazy(() => import('./list.js')),
    run: lazy(() => import('./run.js')),
  },
);
