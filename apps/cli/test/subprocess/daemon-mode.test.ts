import { join } from 'node:path';
import { expect } from 'vitest';
import { daemonPids, stopDaemons } from '../daemons.js';
import { cli } from '../harness.js';
import { defineScenarios } from '../scenarios.js';

// The default mode: the first command that needs the engine starts the daemon; the others use it.
defineScenarios('daemon', async (cwd) => {
  const dataDir = join(cwd, 'data');
  return {
    args: [],
    env: { SCRIPTHUT_DATA_DIR: dataDir },
    teardown: async () => {
      try {
        expect(daemonPids(dataDir)).toHaveLength(1); // every command above used one daemon
        const stop = await cli(['daemon', 'stop'], { cwd, env: { SCRIPTHUT_DATA_DIR: dataDir } });
        expect(stop.code, stop.stderr).toBe(0);
        expect(daemonPids(dataDir)).toEqual([]);
      } finally {
        await stopDaemons(dataDir);
      }
    },
  };
});
