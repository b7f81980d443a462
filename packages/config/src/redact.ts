/** Secret-free copies of a configuration for display. */
import type { ScriptHutConfig } from './types.js';

/** The replacement shown instead of a secret value. */
export const REDACTED = '***';

/**
 * A deep copy of `config` with secrets replaced by `"***"`. The only secret in scripthut.yaml is
 * `settings.auth_token` (key *paths* are not secrets and are kept).
 */
export function redactConfig(config: ScriptHutConfig): ScriptHutConfig {
  const copy = structuredClone(config);
  if (copy.settings.auth_token !== null) copy.settings.auth_token = REDACTED;
  return copy;
}
