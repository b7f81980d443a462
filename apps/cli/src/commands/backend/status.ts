import type { BackendDetail, BackendView } from '@scripthut/runtime';
import { command } from '../../command.js';
import { formatAgo, formatDuration, renderFields, renderTable, truncate } from '../../format.js';
import { escapeControl, type Styles } from '../../output.js';

const e1 = (t: string) => escapeControl(t, { singleLine: true });

/** `ok` when connected and the last poll succeeded, else `error`. */
export function backendStatusText(b: BackendView): string {
  return b.health.connected && !b.lastError ? 'ok' : 'error';
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** Human detail of one backend. */
export function renderBackendDetail(b: BackendDetail, style: Styles): string {
  const status = backendStatusText(b);
  const info = b.clusterInfo;
  const lines = [
    `${style.bold(e1(b.name))} (${e1(b.type)})  ${status === 'ok' ? style.green(status) : style.red(status)}`,
    renderFields(
      [
        ['Endpoint', b.health.endpoint],
        ['Error', b.lastError ?? b.health.lastError],
        ['In flight', `${b.inFlight} of max ${b.maxConcurrent}`],
        [
          'Last poll',
          b.lastPollAt
            ? `${formatAgo(b.lastPollAt)}${b.lastPollDurationMs !== null ? ` (took ${formatDuration(b.lastPollDurationMs)})` : ''}`
            : 'never',
        ],
        [
          'CPUs idle',
          info && info.cpusTotal !== null ? `${info.cpusIdle ?? '?'} of ${info.cpusTotal}` : null,
        ],
        [
          'Disk',
          info?.disk
            ? `${gib(info.disk.availableBytes)} free of ${gib(info.disk.totalBytes)} (${info.disk.path})`
            : null,
        ],
        ...Object.entries(info?.facts ?? {}).map(([k, v]) => [k, v] as [string, string]),
      ],
      style,
    ),
  ];
  const partitions = info?.partitions ?? [];
  if (partitions.length) {
    lines.push('', style.bold('Partitions:'));
    lines.push(
      renderTable(
        partitions,
        [
          { header: 'PARTITION', get: (p) => `${p.name}${p.isDefault ? '*' : ''}` },
          ...(['state', 'nodes', 'cpusIdle', 'cpusTotal', 'timeLimit'] as const)
            .filter((k) => partitions.some((p) => (p as unknown as Record<string, unknown>)[k] != null))
            .map((k) => ({
              header: k.replace(/[A-Z]/g, (c) => ` ${c}`).toUpperCase(),
              get: (p: (typeof partitions)[number]) =>
                String((p as unknown as Record<string, unknown>)[k] ?? '-'),
            })),
        ],
        style,
      ),
    );
  }
  if (info?.pendingReasons && Object.keys(info.pendingReasons).length) {
    lines.push(
      '',
      `${style.bold('Pending reasons:')} ${Object.entries(info.pendingReasons)
        .map(([r, n]) => `${e1(r)} ${n}`)
        .join(', ')}`,
    );
  }
  if (b.commandLog.length) {
    lines.push('', style.bold('Recent commands:'));
    for (const c of b.commandLog.slice(-5)) {
      const exit = c.exitCode === null ? '?' : String(c.exitCode);
      lines.push(
        `  ${formatAgo(c.at)}  exit ${exit}  ${formatDuration(c.durationMs)}  ${truncate(e1(c.command.replace(/\s+/g, ' ')), 80)}`,
      );
    }
  }
  return lines.join('\n');
}

export default command({
  meta: { name: 'status', description: 'Health, cluster facts and recent commands of one backend (or all)' },
  args: {
    name: { type: 'positional', required: false, description: 'Backend name (default: every backend)' },
  },
  complete: { name: 'backends' },
  examples: ['scripthut backend status', 'scripthut backend status hpc'],
  async run(args, ctx) {
    const api = await ctx.api();
    if (args.name) {
      const detail = await api.getBackend(args.name);
      ctx.out.result(detail, () => renderBackendDetail(detail, ctx.out.style));
      return backendStatusText(detail) === 'ok' ? 0 : 1;
    }
    const all = await Promise.all((await api.listBackends()).map((b) => api.getBackend(b.name)));
    ctx.out.result(all, () =>
      all.length
        ? all.map((d) => renderBackendDetail(d, ctx.out.style)).join('\n\n')
        : 'No backends configured.',
    );
    return all.some((d) => backendStatusText(d) !== 'ok') ? 1 : 0;
  },
});
