import { group, lazy } from '../../command.js';

export default group(
  {
    name: 'daemon',
    description: 'The background control plane of the data dir: start, stop, status, logs',
  },
  {
    start: lazy(() => import('./start.js')),
    stop: lazy(() => import('./stop.js')),
    status: lazy(() => import('./status.js')),
    logs: lazy(() => import('./logs.js')),
    run: lazy(() => import('./run.js')),
  },
  ['scripthut daemon status', 'scripthut daemon logs -f', 'scripthut daemon stop'],
);
