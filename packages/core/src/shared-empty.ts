/**
 * Empty records shared by every task that has none. A 100,000-task run keeps a task spec and an
 * index record per task for its whole life; one empty object each (`envVars`, `meta`) is ~56 bytes,
 * ~11 MB per run (issue 19: peak RSS). Frozen, so that a write into the shared object throws instead
 * of leaking into every task: code that changes these fields replaces the object (`t.meta = {…}`).
 */

/** The `envVars` of a task spec without environment variables. */
export const NO_ENV_VARS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The `meta` of a task record that has no backend or cache metadata yet. */
export const NO_META: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;
