import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createRuntime } from '@scripthut/runtime';
import { startServer } from '@scripthut/server';
import { defineScenarios } from '../scenarios.js';

defineScenarios('server', async (cwd) => {
  const runtime = await createRuntime({
    cwd,
    dataDir: join(cwd, 'data'),
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  });
  await runtime.start();
  const token = randomBytes(24).toString('base64url');
  const server = await startServer(runtime, { host: '127.0.0.1', port: 0, authToken: token });
  return {
    args: ['--server', server.url],
    env: { SCRIPTHUT_TOKEN: token },
    teardown: async () => {
      await server.close();
      await runtime.close();
    },
  };
});
