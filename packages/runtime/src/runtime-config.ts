/**
 * The runtime's live config: the loaded `scripthut.yaml` (or the embedded default), shown with
 * secrets redacted, validated, reloaded (what can change live) and saved (atomically, with a backup).
 */

import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  diffConfigs,
  loadConfig,
  redactConfig,
  redactConfigText,
  type ScriptHutConfig,
  validateConfigText,
} from '@scripthut/config';
import { type BackendRegistry, type Issue, ScriptHutError } from '@scripthut/core';
import { configTextHash, restoreRedactedLines, writeConfigFileAtomically } from './config-file.js';
import type { ServerEnvRules } from './task-env.js';
import type { ConfigReloadResult, ConfigSaveResult, ScriptHutRuntime } from './types.js';

/** The config a runtime runs with; a reload replaces {@link current} (backends, pricing and the poll interval excepted). */
export class LiveConfig {
  constructor(
    private config: ScriptHutConfig,
    readonly source: ScriptHutRuntime['configSource'],
    /** The file's text (the embedded default's for no file). */
    private text: string | null,
    /** Backend types the config was validated with (installed + plugins). */
    private readonly backendTypes: BackendRegistry | undefined,
    /** Modules of third-party backend types (reloads load them again). */
    private readonly plugins: readonly string[],
    /** Server-level env rules as the backends' submissions see them (updated on reload). */
    private readonly serverRules: { current: ServerEnvRules },
  ) {}

  /** The config in force now. */
  get current(): ScriptHutConfig {
    return this.config;
  }

  /** `settings` as the runtime shows them (`data_dir`: the one in use, which options may override). */
  settings(dataDir: string): ScriptHutRuntime['settings'] {
    const s = this.config.settings;
    return {
      server_host: s.server_host,
      server_port: s.server_port,
      poll_interval: s.poll_interval,
      filter_user: s.filter_user ?? null,
      auth_token: s.auth_token ?? null,
      data_dir: dataDir,
      allowed_hosts: s.allowed_hosts ?? [],
      tls_cert: s.tls_cert ?? null,
      tls_key: s.tls_key ?? null,
    };
  }

  /** Directory of the config file (null for the embedded default). */
  dir(): string | null {
    return this.source.kind === 'file' ? dirname(this.source.path) : null;
  }

  view(): { source: string; text: string | null; config: unknown } {
    return {
      source: this.source.kind === 'file' ? this.source.path : 'embedded default (no scripthut.yaml found)',
      text: this.text === null ? null : redactConfigText(this.text, this.config),
      config: redactConfig(this.config),
    };
  }

  validate(text: string): { issues: Issue[]; warnings: Issue[] } {
    const r = validateConfigText(
      text,
      this.source.kind === 'file' ? this.source.path : 'scripthut.yaml',
      this.backendTypes ? { backends: this.backendTypes } : {},
    );
    return { issues: r.issues, warnings: r.warnings };
  }

  async reload(): Promise<ConfigReloadResult> {
    if (this.source.kind !== 'file') {
      return {
        applied: false,
        live: [],
        restart: [],
        issues: [{ path: '', message: 'running on the embedded default; there is no file to reload' }],
      };
    }
    let loaded: Awaited<ReturnType<typeof loadConfig>>;
    try {
      loaded = await loadConfig({ path: this.source.path, plugins: this.plugins });
    } catch (e) {
      if (ScriptHutError.is(e)) return { applied: false, live: [], restart: [], issues: e.issues };
      throw e;
    }
    const diff = diffConfigs(this.config, loaded.config);
    // Apply what can be applied live; keep backends/pricing/poll interval until restart.
    this.config = {
      ...loaded.config,
      backends: this.config.backends,
      pricing: this.config.pricing,
      settings: { ...loaded.config.settings, poll_interval: this.config.settings.poll_interval },
    };
    this.serverRules.current = this.config;
    this.text = await readFile(this.source.path, 'utf8');
    return { applied: true, live: diff.live, restart: diff.restart, issues: [] };
  }

  async save(text: string, options: { baseHash?: string; dryRun?: boolean } = {}): Promise<ConfigSaveResult> {
    if (this.source.kind !== 'file')
      throw new ScriptHutError(
        'config_not_found',
        'running on the embedded default: there is no config file to save; start with a file (save the text as scripthut.yaml in the directory you start ScriptHut from, or pass --config PATH)',
      );
    const path = this.source.path;
    const onDisk = await readFile(path, 'utf8');
    const shown = redactConfigText(onDisk, this.config);
    if (options.baseHash !== undefined && configTextHash(shown) !== options.baseHash)
      throw new ScriptHutError(
        'conflict',
        `${path} changed on disk since this text was loaded; reload the page to edit the current file`,
      );
    let full: string;
    try {
      full = restoreRedactedLines(text, onDisk, shown);
    } catch (e) {
      throw new ScriptHutError('validation_failed', `cannot save ${path}: ${(e as Error).message}`);
    }
    const { issues, warnings } = this.validate(full);
    if (issues.length > 0 || options.dryRun)
      return { saved: false, issues, warnings, backupPath: null, reload: null };
    const backupPath = await writeConfigFileAtomically(path, full);
    const reload = await this.reload();
    return { saved: true, issues: [], warnings, backupPath, reload };
  }
}
