import { join } from 'node:path';
import { defineScenarios } from '../scenarios.js';

// --no-daemon through the environment: every command runs its own engine (or reads the store)
defineScenarios('in-process', async (cwd) => ({
  args: [],
  env: { SCRIPTHUT_DATA_DIR: join(cwd, 'data'), SCRIPTHUT_NO_DAEMON: '1' },
  teardown: async () => {},
}));
