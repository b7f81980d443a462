/**
 * Third-party backend types. A backend package exports a plugin made with `defineBackend` from
 * `@scripthut/core` as its default export (or a list of them); {@link loadBackendPlugins} imports
 * such modules and adds their plugins to a registry, which `loadConfig` (option `plugins`)
 * validates `backends[]` with and the runtime builds backends from. The runtime takes the list from
 * `SCRIPTHUT_PLUGINS` (comma-separated), e.g.
 *
 * ```sh
 * npm install @acme/scripthut-backend-nomad     # next to scripthut.yaml
 * SCRIPTHUT_PLUGINS=@acme/scripthut-backend-nomad scripthut serve
 * ```
 */
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BackendPlugin, type BackendRegistry, defineBackend, ScriptHutError } from '@scripthut/core';

function isPlugin(value: unknown): value is BackendPlugin {
  const v = value as Partial<BackendPlugin> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.type === 'string' &&
    typeof v.create === 'function' &&
    typeof v.configSchema === 'object' &&
    v.configSchema !== null &&
    typeof v.configSchema.shape === 'object'
  );
}

/**
 * A copy of `base` with the plugins exported by `specifiers` added.
 *
 * @param specifiers - Package names or module paths (relative ones against `baseDir`).
 * @param baseDir - Directory package names are resolved from (the config file's).
 * @throws ScriptHutError `config_invalid` naming the module when it cannot be loaded, exports no
 *   plugin, or adds a type that exists already.
 * @example
 * ```ts
 * const registry = await loadBackendPlugins(installedBackendRegistry(), ['@acme/scripthut-backend-nomad'], process.cwd());
 * ```
 */
export async function loadBackendPlugins(
  base: BackendRegistry,
  specifiers: readonly string[],
  baseDir: string,
): Promise<BackendRegistry> {
  const registry = base.clone();
  const require = createRequire(join(baseDir, 'scripthut.yaml'));
  for (const spec of specifiers) {
    const where = `backend plugin ${JSON.stringify(spec)}`;
    let exported: unknown;
    try {
      const path = spec.startsWith('.') || isAbsolute(spec) ? resolve(baseDir, spec) : require.resolve(spec);
      const mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
      exported = mod.default;
    } catch (e) {
      throw new ScriptHutError('config_invalid', `${where} cannot be loaded: ${(e as Error).message}`);
    }
    const plugins = Array.isArray(exported) ? exported : [exported];
    if (plugins.length === 0 || !plugins.every(isPlugin))
      throw new ScriptHutError(
        'config_invalid',
        `${where} does not export a backend plugin (defineBackend from @scripthut/core) as its default export`,
      );
    for (const p of plugins) {
      try {
        registry.register(defineBackend(p));
      } catch (e) {
        throw new ScriptHutError('config_invalid', `${where}: ${(e as Error).message}`);
      }
    }
  }
  return registry;
}
