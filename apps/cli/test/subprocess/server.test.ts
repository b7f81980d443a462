import { join } from 'node:path';
import { createRuntime, readAuthTokenFile } from '@scripthut/runtime';
import { startServer } from '@scripthut/server';
import { defineScenarios } from '../scenarios.js';

defineScenarios('server', async (cwd) => {
  const runtime = await createRuntime({
    cwd,
    dataDir: join(cwd, 'data'),
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  });
  await runtime.start();
  const server = await startServer(runtime, { host: '127.0.0.1', port: 0, env: {} });
  return {
    args: ['--server', server.url],
    env: { SCRIPTHUT_TOKEN: readAuthTokenFile(join(cwd, 'data')) ?? '' },
    teardown: async () => {
      await server.close();
      await runtime.close();
    },
  };
});
