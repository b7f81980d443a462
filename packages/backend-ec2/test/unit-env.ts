/**
 * The environment of the EC2 backend's unit tests: a fresh fake behind real SDK clients, a data
 * dir and a backend factory per test; probes cannot connect (there is no tunnel), AWS retries do not
 * wait, and the clock is the test's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { createEc2Backend, type Ec2Backend, type TunnelFactory } from '../src/index.js';
import { FakeAws } from './fake-aws.js';
import { config } from './helpers.js';

const noTunnel: TunnelFactory = {
  open: async () => {
    throw new Error('no tunnel in unit tests');
  },
};

export interface UnitEnv {
  fake: FakeAws;
  clients: ReturnType<FakeAws['install']>['clients'];
  dataDir: string;
  /** The backend's clock (ms); tests move it. */
  clock: number;
  warnings: string[];
  make(cfg?: Parameters<typeof config>[0]): Ec2Backend;
}

/** Registers the per-test setup and returns the (per-test refreshed) environment. */
export function useUnitEnv(): UnitEnv {
  let restore: () => void = () => {};
  const env = {} as UnitEnv;
  beforeEach(() => {
    const fake = new FakeAws();
    const installed = fake.install();
    restore = installed.restore;
    Object.assign(env, {
      fake,
      clients: installed.clients,
      dataDir: mkdtempSync(join(tmpdir(), 'ec2-unit-')),
      clock: 1_800_000_000_000,
      warnings: [],
      make: (cfg: Parameters<typeof config>[0] = {}) =>
        createEc2Backend({
          name: 'aws-ec2',
          config: config(cfg),
          dataDir: env.dataDir,
          clients: { ec2: env.clients.ec2, instanceConnect: env.clients.instanceConnect },
          tunnelFactory: noTunnel,
          sleep: async () => undefined,
          now: () => env.clock,
          logger: { warn: (m) => env.warnings.push(m) },
          probeTimeoutMs: 500,
        }),
    });
  });
  afterEach(() => {
    restore();
    rmSync(env.dataDir, { recursive: true, force: true });
  });
  return env;
}
