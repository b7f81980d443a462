/** Checks run when a backend is actually built (not at load time). */
import { existsSync } from 'node:fs';
import { type Issue, ScriptHutError } from '@scripthut/core';
import { backendOrigin, formatIssue } from './load.js';
import { formatPath } from './suggest.js';
import type { BackendConfig } from './types.js';

/**
 * Throws when a local file named by the backend's config does not exist (SSH `key_path`,
 * `cert_path`, `known_hosts` of Slurm/PBS backends without `ssh.control_path`). At load time these
 * are only warnings.
 *
 * @throws ScriptHutError `config_invalid` listing every missing file with file:line:column when known.
 */
export function checkBackendFiles(backend: BackendConfig): void {
  if (backend.type !== 'slurm' && backend.type !== 'pbs') return;
  if (backend.ssh.control_path !== null) return; // the OpenSSH master authenticates, not these files
  const origin = backendOrigin(backend);
  const issues: Issue[] = [];
  const check = (field: 'key_path' | 'cert_path' | 'known_hosts', what: string) => {
    const p = backend.ssh[field];
    if (p === null || existsSync(p)) return;
    const sub = ['ssh', field];
    const issue: Issue = {
      path: origin ? formatPath(['backends', origin.index, ...sub]) : formatPath(sub),
      message: `${what} not found: ${p} (backend '${backend.name}')`,
      severity: 'error',
    };
    if (origin) {
      issue.file = origin.file;
      const pos = origin.locate(sub);
      if (pos) {
        issue.line = pos.line;
        issue.column = pos.column;
      }
    }
    issues.push(issue);
  };
  check('key_path', 'SSH key file');
  check('cert_path', 'SSH certificate file');
  check('known_hosts', 'known_hosts file');
  if (issues.length > 0)
    throw new ScriptHutError(
      'config_invalid',
      [`backend '${backend.name}': ${issues.length} missing file(s)`, ...issues.map(formatIssue)].join('\n'),
      { issues, details: { backend: backend.name } },
    );
}

/**
 * Call before building a backend: runs {@link checkBackendFiles}. (Every installed backend type can
 * be built; an unknown type is refused when the configuration is validated.)
 *
 * @throws ScriptHutError `config_invalid` listing missing files.
 */
export function assertBackendUsable(backend: BackendConfig): void {
  checkBackendFiles(backend);
}
