/** Task sizes AWS container services accept: GPU counts of a gres string, Fargate's combinations. */

/** GPU count of a gres string: `gpu:2` → 2, `gpu:v100:1` → 1, `gpu` → 1; anything else → 0. */
export function gpuCount(gres: string | null | undefined): number {
  if (!gres) return 0;
  let total = 0;
  for (const part of gres.split(',')) {
    const fields = part.trim().split(':');
    if (fields[0] !== 'gpu') continue;
    if (fields.length === 1) {
      total += 1;
      continue;
    }
    const n = Number.parseInt(fields[fields.length - 1]!, 10);
    total += Number.isFinite(n) && n > 0 ? n : 1;
  }
  return total;
}

/** Fargate's vCPU → memory (MiB) combinations, smallest first. */
export const FARGATE_SIZES: readonly { vcpu: number; memory: readonly number[] }[] = [
  { vcpu: 0.25, memory: [512, 1024, 2048] },
  { vcpu: 0.5, memory: [1024, 2048, 3072, 4096] },
  { vcpu: 1, memory: steps(2048, 8192, 1024) },
  { vcpu: 2, memory: steps(4096, 16384, 1024) },
  { vcpu: 4, memory: steps(8192, 30720, 1024) },
  { vcpu: 8, memory: steps(16384, 61440, 4096) },
  { vcpu: 16, memory: steps(32768, 122880, 8192) },
];

function steps(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}
