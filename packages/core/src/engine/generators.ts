/**
 * `generates_source`: when the job of a generator task completes, the engine reads the file the task
 * wrote (`backend.readFile`, relative to the task's working dir), parses it as task JSON (wildcards
 * see the run's existing ids), and appends the new tasks in the same store transaction that marks
 * the generator completed. A read or parse error fails the generator, so its dependents get
 * `dep_failed`. While the file is read the task is `finalizing`: polls and marker checks skip it.
 */
import type { JobStatus } from '../backend.js';
import { isActiveTaskState, type TaskRecord } from '../domain.js';
import { toError } from '../errors.js';
import { parseTaskDocument } from '../task-json.js';
import type { EngineContext } from './ledger.js';
import { generatedWorkingDir, resolveWorkingDir } from './paths.js';
import { newTaskRecord, type RunState } from './run-index.js';
import { finishedFields } from './status-map.js';

/**
 * Read, check and append the tasks of a generator whose job completed (the caller put it in
 * `rs.finalizing`). Resolves the number of tasks added.
 */
export async function finishGenerator(
  ctx: EngineContext,
  rs: RunState,
  t: TaskRecord,
  st: JobStatus,
): Promise<number> {
  const { ledger } = ctx;
  const path = t.spec.generatesSource!;
  const cwd = resolveWorkingDir(t.spec.workingDir, rs.run.baseDir);
  const finished = { ...finishedFields(t, st, ledger.now().toISOString()), exitCode: st.exitCode ?? 0 };
  let text: string | null = null;
  let error: string | null = null;
  try {
    text = await rs.backendIndex.backend.readFile(path, cwd);
  } catch (e) {
    error = `generates_source: cannot read ${JSON.stringify(path)}: ${toError(e).message}`;
  }
  rs.finalizing.delete(t.spec.id);
  // Cancelled (or otherwise changed) while reading.
  if (!isActiveTaskState(t.state)) {
    ledger.markDirty(rs);
    return 0;
  }
  let records: TaskRecord[] = [];
  if (text !== null) {
    try {
      const parsed = parseTaskDocument(text, {
        knownEnvironments: Object.keys(rs.run.environments),
        existingTaskIds: [...rs.tasks.keys()],
        source: path,
      });
      for (const w of parsed.warnings)
        ledger.log.warn(`run ${rs.run.id} generates_source ${path}: ${w.path}: ${w.message}`);
      let seq = rs.maxSeq;
      records = parsed.tasks.map((spec) => {
        const workingDir = generatedWorkingDir(spec.workingDir, cwd);
        const rec = newTaskRecord(
          rs.run,
          workingDir === spec.workingDir ? spec : { ...spec, workingDir },
          ++seq,
        );
        rec.meta = { generatedBy: t.spec.id };
        return rec;
      });
    } catch (e) {
      error = `generates_source: invalid task JSON in ${JSON.stringify(path)}: ${toError(e).message}`;
    }
  }
  if (error !== null) {
    ledger.commit([
      { rs, taskId: t.spec.id, patch: { ...finished, error }, to: 'failed', by: 'generator', reason: error },
    ]);
    ledger.flushRunEvents();
    return 0;
  }
  for (const r of records)
    ledger.checkTransition(null, r.state, 'create', `run ${rs.run.id} task ${r.spec.id}`);
  ledger.store.transaction(() => {
    if (records.length) ledger.store.appendTasks(rs.run.id, records);
    ledger.commit([
      {
        rs,
        taskId: t.spec.id,
        patch: { ...finished, error: null },
        to: 'completed',
        by: 'generator',
        reason: `completed; generated ${records.length} task(s)`,
      },
    ]);
  });
  // Index the new tasks after the generator is completed (their deps on it are then met).
  ledger.addTasks(rs, records);
  ledger.markDirty(rs);
  ledger.emitNewTasks(records);
  ledger.flushRunEvents();
  return records.length;
}
