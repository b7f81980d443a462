import { group, lazy } from '../../command.js';

export default group(
  { name: 'config', description: 'Check a configuration file, print the JSON Schema' },
  {
    check: lazy(() => import('./check.js')),
    schema: lazy(() => import('./schema.js')),
  },
);
