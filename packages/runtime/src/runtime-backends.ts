/**
 * The runtime's backends by name: the built ones (or why one could not be built) and their views
 * (health, the engine's poll state). Every other part of the runtime looks a backend up here.
 */
import { type Backend, type Engine, ScriptHutError } from '@scripthut/core';
import type { BuiltBackend } from './backends.js';
import { notFound } from './not-found.js';
import type { BackendDetail, BackendView } from './types.js';

/** Looks up the configured backends; unknown names are `not_found`, unbuilt ones `backend_unavailable`. */
export class RuntimeBackends {
  constructor(
    /** Every configured backend, built or not (fixed for the runtime's life: reloads keep backends). */
    readonly built: readonly BuiltBackend[],
    private readonly engine: Pick<Engine, 'backendState'>,
  ) {}

  /** The configured backend `name`, built or not. */
  entry(name: string): BuiltBackend {
    const b = this.built.find((x) => x.config.name === name);
    if (!b)
      throw notFound(
        'backend',
        name,
        this.built.map((x) => x.config.name),
        'scripthut backend list',
      );
    return b;
  }

  /** The usable backend `name` (`backend_unavailable` when it could not be built). */
  require(name: string): Backend {
    const b = this.entry(name);
    if (!b.backend)
      throw new ScriptHutError('backend_unavailable', `backend "${name}" is unavailable: ${b.error}`);
    return b.backend;
  }

  /** The backend `name`, or null when it is unknown or could not be built. */
  orNull(name: string): Backend | null {
    return this.built.find((b) => b.config.name === name)?.backend ?? null;
  }

  list(): BackendView[] {
    return this.built.map((b) => this.view(b));
  }

  detail(name: string): BackendDetail {
    const b = this.entry(name);
    return { ...this.view(b), commandLog: b.backend?.commandLog?.() ?? [] };
  }

  private view(b: BuiltBackend): BackendView {
    const state = b.backend ? this.engine.backendState(b.config.name) : null;
    return {
      name: b.config.name,
      type: b.config.type,
      maxConcurrent:
        b.backend?.maxConcurrent ?? ('max_concurrent' in b.config ? (b.config.max_concurrent ?? 0) : 0),
      health: b.backend
        ? b.backend.health()
        : { connected: false, lastError: b.error, endpoint: b.config.type },
      lastPollAt: state?.lastPollAt ?? null,
      lastPollDurationMs: state?.lastPollDurationMs ?? null,
      lastError: state?.lastError ?? b.error,
      inFlight: state?.inFlight ?? 0,
      clusterInfo: state?.clusterInfo ?? null,
      clusterInfoAt: state?.clusterInfoAt ?? null,
    };
  }
}
