import { join } from 'node:path';
import { defineScenarios } from '../scenarios.js';

defineScenarios('in-process', async (cwd) => ({
  args: [],
  env: { SCRIPTHUT_DATA_DIR: join(cwd, 'data') },
  teardown: async () => {},
}));
