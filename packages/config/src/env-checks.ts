/**
 * Cross-field checks of env rules, `partition_map` and `ssh.control_path` on the raw document
 * (tolerant of any shape: the schema reports type errors).
 */
import { groupCycle, partitionMapChain } from './env-rules.js';

type RawIssue = { path: PropertyKey[]; message: string };
type Rules = { include?: string[] }[];

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `env_groups` as far as includes go (anything malformed is left to the schema). */
function groupsOf(value: unknown): Record<string, Rules> {
  if (!isObject(value)) return {};
  const out: Record<string, Rules> = {};
  for (const [name, rules] of Object.entries(value)) {
    if (!Array.isArray(rules)) continue;
    out[name] = rules.map((r) =>
      isObject(r) && Array.isArray(r.include)
        ? { include: r.include.filter((x) => typeof x === 'string') }
        : {},
    );
  }
  return out;
}

function cycleMessage(chain: string[]): string {
  return `env_groups include each other in a cycle: ${chain.join(' -> ')}`;
}

/** Errors: include cycles among the groups a backend sees, partition_map chains. */
export function envCrossFieldIssues(raw: unknown): RawIssue[] {
  if (!isObject(raw)) return [];
  const out: RawIssue[] = [];
  const server = groupsOf(raw.env_groups);
  const serverCycle = groupCycle(server);
  if (serverCycle) out.push({ path: ['env_groups', serverCycle[0]!], message: cycleMessage(serverCycle) });
  const backends = Array.isArray(raw.backends) ? raw.backends : [];
  backends.forEach((b, i) => {
    if (!isObject(b)) return;
    const own = groupsOf(b.env_groups);
    // Later layers shadow earlier ones: the server's groups win over the backend's.
    const cycle = serverCycle ? null : groupCycle({ ...own, ...server });
    if (cycle) {
      const name = cycle.find((n) => Object.hasOwn(own, n) && !Object.hasOwn(server, n)) ?? cycle[0]!;
      out.push({ path: ['backends', i, 'env_groups', name], message: cycleMessage(cycle) });
    }
    if (isObject(b.partition_map)) {
      const map = Object.fromEntries(
        Object.entries(b.partition_map).filter((e): e is [string, string] => typeof e[1] === 'string'),
      );
      const chain = partitionMapChain(map);
      if (chain)
        out.push({
          path: ['backends', i, 'partition_map', chain.key],
          message: `"${chain.key}" is mapped to "${map[chain.key]}" and is also what "${chain.from}" is mapped to; a mapping is applied once, so map "${chain.from}" straight to the partition it should end up in`,
        });
    }
  });
  return out;
}

/** Warnings: settings that have no effect next to `ssh.control_path` or a PBS `queue`. */
export function envWarnings(raw: unknown): RawIssue[] {
  if (!isObject(raw) || !Array.isArray(raw.backends)) return [];
  const out: RawIssue[] = [];
  raw.backends.forEach((b, i) => {
    if (!isObject(b)) return;
    const ssh = b.ssh;
    if (isObject(ssh) && typeof ssh.control_path === 'string' && ssh.control_path !== '') {
      for (const field of ['key_path', 'cert_path', 'known_hosts']) {
        if (ssh[field] === undefined || ssh[field] === null) continue;
        out.push({
          path: ['backends', i, 'ssh', field],
          message: `not used when ssh.control_path is set (commands go through the OpenSSH master connection, which has already logged in)`,
        });
      }
    }
    if (
      b.type === 'pbs' &&
      typeof b.queue === 'string' &&
      isObject(b.partition_map) &&
      Object.keys(b.partition_map).length > 0
    )
      out.push({
        path: ['backends', i, 'partition_map'],
        message: `not used: queue "${b.queue}" overrides the partition of every task on this backend`,
      });
  });
  return out;
}
