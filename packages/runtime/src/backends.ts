/**
 * Builds `Backend` instances from the backend sections of the config, each through the plugin of
 * its type (see `defineBackend` in @scripthut/core). A plugin imports its implementation lazily, so
 * that, for example, the AWS SDK is loaded only when an AWS backend is configured.
 */
import type { BackendConfig } from '@scripthut/config';
import { installedBackendRegistry } from '@scripthut/config';
import type { Backend, BackendRegistry, BackendBuildContext as PluginBuildContext } from '@scripthut/core';

export { pinnedKnownHostsPath } from '@scripthut/ssh';

export interface BuiltBackend {
  config: BackendConfig;
  backend: Backend | null;
  /** Why the backend could not be built (shown in the UI, runs on it fail with this). */
  error: string | null;
}

export interface BackendBuildContext {
  dataDir: string;
  warn: (message: string) => void;
  /** Every variable name configured as secret (withheld from what local tasks inherit). */
  secretEnvNames?: readonly string[];
  /** Backend types (default: the installed ones; `loadConfig` returns those it validated with). */
  registry?: BackendRegistry;
}

/** Build every configured backend; a backend that cannot be built is kept with its error. */
export async function buildBackends(
  configs: BackendConfig[],
  ctx: BackendBuildContext,
): Promise<BuiltBackend[]> {
  const registry = ctx.registry ?? installedBackendRegistry();
  const pluginCtx: PluginBuildContext = {
    dataDir: ctx.dataDir,
    warn: ctx.warn,
    secretEnvNames: ctx.secretEnvNames ?? [],
  };
  const out: BuiltBackend[] = [];
  for (const config of configs) {
    try {
      const backend = await registry.require(config.type).create(config, pluginCtx);
      out.push({ config, backend, error: null });
    } catch (e) {
      const message = (e as Error).message;
      ctx.warn(`backend ${config.name} is unavailable: ${message}`);
      out.push({ config, backend: null, error: message });
    }
  }
  return out;
}
