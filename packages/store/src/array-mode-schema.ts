/**
 * Migration step "runs.array_mode" (issue 17): the job-array mode a run's workflow, source or
 * project set (`auto` or `off`, overriding the backend's `array`), so that a restarted control
 * plane groups the run's tasks as it was started. NULL: the backend's setting (every run before).
 */
export const RUN_ARRAY_MODE_SQL = `
ALTER TABLE runs ADD COLUMN array_mode TEXT CHECK (array_mode IN ('auto', 'off'));
`;
