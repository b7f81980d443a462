import { group, lazy } from '../../command.js';

export default group(
  { name: 'run', description: 'Runs: list, view, watch, cancel, rerun, read task logs' },
  {
    list: lazy(() => import('./list.js')),
    view: lazy(() => import('./view.js')),
    watch: lazy(() => import('./watch.js')),
    cancel: lazy(() => import('./cancel.js')),
    rerun: lazy(() => import('./rerun.js')),
    logs: lazy(() => import('./logs.js')),
  },
);
