/**
 * W1 and W6 strict once more with `wal.pollStrictWrites` on (an opt-in setting, off by default):
 * while a write someone waits for is in flight, the event loop keeps turning instead of sleeping,
 * so the thread pool's completion is seen without waking the main thread. The targets are judged
 * on the default settings; this row shows what the setting buys, against the same fsync floor.
 */
import type { Timing } from './stats.js';
import { GROUP_COMMIT, WORKLOADS, type Workload, type WorkloadId } from './workloads.js';
import type { Plan } from './plan.js';

type Timings = Partial<Record<WorkloadId, Timing | { status: 'n/a' | 'failed'; reason: string }>>;

export interface PolledStrictRow {
  /** Median ns per W1 strict commit, one at a time. */
  w1NsPerCommit: number | null;
  /** w1NsPerCommit / the fsync floor's median. */
  w1OverFsyncFloor: number | null;
  /** W6: commits per second at the median round. */
  w6CommitsPerSecond: number | null;
  /** Why a figure is missing, if one is. */
  reason?: string;
}

/** `measure(workloads)` measures them on a fresh strict ecsdb with wal.pollStrictWrites on. */
export async function measurePolledStrict(
  plan: Plan,
  floorNs: number | undefined,
  measure: (workloads: readonly Workload[]) => Promise<Timings>,
): Promise<PolledStrictRow> {
  const w1Workload = WORKLOADS.find((workload) => workload.id === 'W1')!;
  const timings = await measure([w1Workload, GROUP_COMMIT]);
  const w1 = timings.W1;
  const w6 = timings.W6;
  const w1Ns = w1 !== undefined && 'medianNsPerOp' in w1 ? w1.medianNsPerOp : null;
  const w6Ns = w6 !== undefined && 'medianNsPerOp' in w6 ? w6.medianNsPerOp : null;
  const missing = [w1, w6].find((t) => t !== undefined && 'reason' in t) as { reason: string } | undefined;
  return {
    w1NsPerCommit: w1Ns,
    w1OverFsyncFloor: w1Ns === null || floorNs === undefined ? null : w1Ns / floorNs,
    w6CommitsPerSecond: w6Ns === null ? null : (GROUP_COMMIT.updatesPerOp(plan) * 1e9) / w6Ns,
    ...(missing === undefined ? {} : { reason: missing.reason }),
  };
}

export function formatPolledStrict(row: PolledStrictRow | undefined): string[] {
  if (row === undefined) return [];
  const w1 = row.w1NsPerCommit === null ? 'n/a' : `${(row.w1NsPerCommit / 1e3).toFixed(0)} µs/commit`;
  const ratio = row.w1OverFsyncFloor === null ? '' : ` = ${row.w1OverFsyncFloor.toFixed(2)}x the fsync floor`;
  const w6 = row.w6CommitsPerSecond === null ? 'n/a' : `${(row.w6CommitsPerSecond / 1e3).toFixed(0)} k commits/s`;
  return [
    'strict with wal.pollStrictWrites = true (opt-in: the event loop polls while a waited-for write is in flight; targets are judged without it):',
    `  W1 one at a time ${w1}${ratio}; W6 ${w6}${row.reason === undefined ? '' : ` (${row.reason})`}`,
    '',
  ];
}
