/**
 * `@scripthut/store` — the SQLite {@link RunStore} of ScriptHut.
 *
 * @example
 * ```ts
 * import { openSqliteStore } from '@scripthut/store';
 * const store = openSqliteStore(`${dataDir}/scripthut.db`);
 * ```
 */
export { describeStoreFailure, toStoreError } from './errors.js';
export type { ForgottenJob, ForgottenJobStore } from './forgotten-jobs.js';
export { currentSchemaVersion, type Migration, migrate, migrations, SCHEMA_VERSION } from './migrations.js';
export * as schema from './schema.js';
export { openSqliteStore, SqliteRunStore, type SqliteStoreOptions } from './sqlite-store.js';
