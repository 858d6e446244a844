/**
 * The cost of encryption at rest on W1 and W2 (buffered, the default mode): the same workload on
 * a database in the clear and on one with a key, measured back to back on the same machine, and
 * the ratio of their medians. Records are sealed on the main thread as they are committed, so the
 * figure is the commit's time on the main thread (`durable` not awaited; the background write and
 * fsync, the same in both, would only add noise). The key is random per run and never leaves the
 * process.
 */
import { randomBytes } from 'node:crypto';
import type { Mode, Plan } from './plan.js';
import type { Timing } from './stats.js';
import { WORKLOADS, type Workload, type WorkloadId } from './workloads.js';
import type { EncryptionOptions } from '../src/index.js';

type Timings = Partial<Record<WorkloadId, Timing | { status: 'n/a' | 'failed'; reason: string }>>;

export interface EncryptionCostRow {
  workload: WorkloadId;
  mode: Mode['name'];
  /** Median ns per operation (a W1 commit, a W2 tick) in the clear and encrypted. */
  clearNsPerOp: number | null;
  encryptedNsPerOp: number | null;
  /** encrypted / clear: 1.3 means encryption costs 30 % more time per operation. */
  costRatio: number | null;
  /** Why a figure is missing, if one is. */
  reason?: string;
}

/** `measure(encryption)` measures the workloads on a fresh ecsdb in `mode`, encrypted when given options. */
export async function measureEncryptionCost(
  mode: Mode,
  measure: (workloads: readonly Workload[], encryption: EncryptionOptions | undefined) => Promise<Timings>,
): Promise<EncryptionCostRow[]> {
  const workloads = WORKLOADS.filter((workload) => workload.id === 'W1' || workload.id === 'W2');
  const clear = await measure(workloads, undefined);
  const encrypted = await measure(workloads, { key: randomBytes(32).toString('hex') });
  return workloads.map((workload) => {
    const a = clear[workload.id];
    const b = encrypted[workload.id];
    const clearNs = a !== undefined && 'medianNsPerOp' in a ? a.medianNsPerOp : null;
    const encryptedNs = b !== undefined && 'medianNsPerOp' in b ? b.medianNsPerOp : null;
    const missing = [a, b].find((t) => t !== undefined && 'reason' in t) as { reason: string } | undefined;
    return {
      workload: workload.id,
      mode: mode.name,
      clearNsPerOp: clearNs,
      encryptedNsPerOp: encryptedNs,
      costRatio: clearNs === null || encryptedNs === null ? null : encryptedNs / clearNs,
      ...(missing === undefined ? {} : { reason: missing.reason }),
    };
  });
}

export function formatEncryptionCost(rows: readonly EncryptionCostRow[] | undefined): string[] {
  if (rows === undefined || rows.length === 0) return [];
  const us = (ns: number | null) => (ns === null ? 'n/a' : ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(2)} µs`);
  return [
    'encryption at rest (AES-256-GCM; main-thread time per operation, durable not awaited; clear and encrypted back to back):',
    ...rows.map(
      (row) =>
        `  ${row.workload} ${row.mode}: ${us(row.clearNsPerOp)} clear, ${us(row.encryptedNsPerOp)} encrypted per ${row.workload === 'W1' ? 'commit' : 'tick'}` +
        (row.costRatio === null ? ` (${row.reason ?? 'not measured'})` : ` = ${row.costRatio.toFixed(2)}x`),
    ),
    '',
  ];
}
