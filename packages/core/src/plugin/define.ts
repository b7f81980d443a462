/**
 * Backends as plugins. A backend package describes itself with {@link defineBackend}: its `type`
 * (the `type:` of a `backends[]` entry in scripthut.yaml), the zod schema of its own configuration
 * fields, and `create`, which builds the {@link Backend} from a validated entry. The configuration
 * loader builds the `backends[]` union from the registered plugins (adding the fields every backend
 * has: `name`, `type`, `env`, `env_groups`), and the runtime builds each configured backend through
 * the plugin of its type — neither knows the list of backend types.
 *
 * @example
 * ```ts
 * import { defineBackend } from '@scripthut/core';
 * import { int, text } from '@scripthut/core/config-fields';
 * import { z } from 'zod';
 *
 * export const nomadBackend = defineBackend({
 *   type: 'nomad',
 *   description: 'HashiCorp Nomad batch jobs.',
 *   configSchema: z.strictObject({
 *     address: text().describe('Nomad API address.'),
 *     max_concurrent: int(1).default(100),
 *   }),
 *   async create(config, ctx) {
 *     const { createNomadBackend } = await import('./backend.js'); // load the SDK only when used
 *     return createNomadBackend({ name: config.name, address: config.address, dataDir: ctx.dataDir });
 *   },
 * });
 * ```
 */
import type { z } from 'zod';
import type { Backend } from '../backend.js';
import { ScriptHutError } from '../errors.js';

/** What a plugin's {@link BackendPlugin.create} receives besides its configuration. */
export interface BackendBuildContext {
  /** `settings.data_dir` (expanded): where a backend may keep its own files. */
  dataDir: string;
  /** Report a problem that does not stop the backend from working (shown in logs and the UI). */
  warn(message: string): void;
  /** Every variable name configured as secret (never shown, never inherited by local tasks). */
  secretEnvNames: readonly string[];
}

/** A problem found by {@link BackendPlugin.configIssues}; `path` is relative to the backend entry. */
export interface BackendConfigIssue {
  path: PropertyKey[];
  message: string;
}

/** The validated `backends[]` entry a plugin receives: its own fields plus `name` and `type`. */
export type BackendPluginConfig<T extends string, S extends z.ZodRawShape> = z.output<z.ZodObject<S>> & {
  name: string;
  type: T;
};

/** A backend type: what {@link defineBackend} returns and a registry holds. */
export interface BackendPlugin<T extends string = string, S extends z.ZodRawShape = z.ZodRawShape> {
  /** The `type:` of its `backends[]` entries (`[a-z][a-z0-9_-]*`). */
  readonly type: T;
  /** One line for the JSON Schema and error messages. */
  readonly description: string;
  /**
   * The backend's own fields, as a strict zod object (snake_case, defaults applied). `name`,
   * `type`, `env` and `env_groups` are added by the configuration loader and must not appear here.
   * Declare `partition_map` (from `@scripthut/core/config-fields`) when the backend has
   * partitions or queues.
   */
  readonly configSchema: z.ZodObject<S, z.core.$strict>;
  /**
   * Checks across fields that the schema cannot express (e.g. "one of a or b"), run on the raw
   * entry of this type; each issue becomes a `file:line:col backends[i].<path>` error.
   */
  configIssues?(raw: Readonly<Record<string, unknown>>): BackendConfigIssue[];
  /**
   * Build the backend. Import heavy dependencies (SDKs) here, lazily, so that validating a
   * configuration never loads them. Throw a `ScriptHutError` with a clear message when it cannot
   * be built (the backend is then shown as unavailable with that message).
   */
  create(config: BackendPluginConfig<T, S>, ctx: BackendBuildContext): Promise<Backend>;
}

const TYPE_RE = /^[a-z][a-z0-9_-]*$/;
/** Fields the configuration loader adds to every backend. */
export const COMMON_BACKEND_FIELDS = ['name', 'type', 'env', 'env_groups'] as const;

/**
 * Describe a backend type (see the module documentation for an example). Checks the type name and
 * that the schema does not declare the fields every backend gets.
 *
 * @throws ScriptHutError `config_invalid` for a bad type name or a reserved field.
 */
export function defineBackend<const T extends string, S extends z.ZodRawShape>(
  plugin: BackendPlugin<T, S>,
): BackendPlugin<T, S> {
  if (!TYPE_RE.test(plugin.type))
    throw new ScriptHutError(
      'config_invalid',
      `backend plugin type ${JSON.stringify(plugin.type)} must match ${TYPE_RE.source}`,
    );
  const reserved = COMMON_BACKEND_FIELDS.filter((f) => Object.hasOwn(plugin.configSchema.shape, f));
  if (reserved.length > 0)
    throw new ScriptHutError(
      'config_invalid',
      `backend plugin "${plugin.type}" declares ${reserved.join(', ')}, which every backend gets from the configuration loader`,
    );
  return plugin;
}

/**
 * The backend types known to a process, in registration order (the order error messages list
 * them in).
 *
 * @example
 * ```ts
 * const registry = new BackendRegistry([slurmBackend, localBackend]).register(nomadBackend);
 * const backend = await registry.require('nomad').create(entry, ctx);
 * ```
 */
export class BackendRegistry {
  readonly #plugins = new Map<string, BackendPlugin>();

  constructor(plugins: Iterable<BackendPlugin> = []) {
    for (const p of plugins) this.register(p);
  }

  /**
   * Add a plugin.
   *
   * @throws ScriptHutError `config_invalid` when another plugin already has its type.
   */
  register(plugin: BackendPlugin): this {
    if (this.#plugins.has(plugin.type))
      throw new ScriptHutError('config_invalid', `backend type "${plugin.type}" is registered twice`);
    this.#plugins.set(plugin.type, plugin);
    return this;
  }

  /** The plugin of `type`, if registered. */
  get(type: string): BackendPlugin | undefined {
    return this.#plugins.get(type);
  }

  /**
   * The plugin of `type`.
   *
   * @throws ScriptHutError `config_invalid` naming the registered types.
   */
  require(type: string): BackendPlugin {
    const p = this.#plugins.get(type);
    if (!p)
      throw new ScriptHutError(
        'config_invalid',
        `unknown backend type "${type}" (registered: ${this.types().join(', ')})`,
      );
    return p;
  }

  /** Registered type names, in registration order. */
  types(): string[] {
    return [...this.#plugins.keys()];
  }

  /** Registered plugins, in registration order. */
  plugins(): BackendPlugin[] {
    return [...this.#plugins.values()];
  }

  /** A new registry with the same plugins (to add third-party ones without touching this one). */
  clone(): BackendRegistry {
    return new BackendRegistry(this.#plugins.values());
  }
}
