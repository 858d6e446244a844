/**
 * The spec's performance targets that the bench can judge, each read from one result row.
 * Issue 2 (memory mode) sets the first two; the WAL modes add theirs here when they land.
 * A target whose mode did not run or is not available yet is n/a; one whose figure failed is
 * not met. Neither is ever reported as met.
 */
import type { Durability } from '../src/index.js';
import type { ResultRow } from './run.js';
import type { WorkloadId } from './workloads.js';

interface Target {
  readonly id: string;
  readonly workload: WorkloadId;
  readonly mode: Durability;
  readonly description: string;
  /** The measured quantity, in `unit`; null when it cannot be measured (ecsdb n/a). */
  measured(row: ResultRow): number | null;
  readonly unit: string;
  /** 'atMost': met when measured <= threshold; 'atLeast': when measured >= threshold. */
  readonly bound: 'atMost' | 'atLeast';
  readonly threshold: number;
}

export interface TargetResult {
  id: string;
  description: string;
  workload: WorkloadId;
  mode: Durability;
  unit: string;
  bound: 'atMost' | 'atLeast';
  threshold: number;
  measured: number | null;
  status: 'met' | 'not met' | 'n/a';
}

export const TARGETS: readonly Target[] = [
  {
    id: 'w1-memory-commit-us',
    workload: 'W1',
    mode: 'memory',
    description: 'W1 memory: <= 1 µs per commit',
    measured: (row) => (row.ecsdb.status === 'ok' ? row.ecsdb.medianNsPerOp / 1e3 : null),
    unit: 'µs per commit',
    bound: 'atMost',
    threshold: 1,
  },
  {
    id: 'w2-memory-vs-sqlite',
    workload: 'W2',
    mode: 'memory',
    description: 'W2 memory: >= 10x better-sqlite3 (synchronous=OFF) entity-updates/s',
    measured: (row) => row.ecsdbSpeedupOverSqlite,
    unit: "times better-sqlite3's rate",
    bound: 'atLeast',
    threshold: 10,
  },
];

export function evaluateTargets(results: readonly ResultRow[]): TargetResult[] {
  return TARGETS.map((target) => {
    const row = results.find((candidate) => candidate.workload === target.workload && candidate.mode === target.mode);
    const measured = row === undefined ? null : target.measured(row);
    const met = measured !== null && (target.bound === 'atMost' ? measured <= target.threshold : measured >= target.threshold);
    const notAvailable = row === undefined || row.ecsdb.status === 'n/a';
    return {
      id: target.id,
      description: target.description,
      workload: target.workload,
      mode: target.mode,
      unit: target.unit,
      bound: target.bound,
      threshold: target.threshold,
      measured,
      status: met ? 'met' : notAvailable ? 'n/a' : 'not met',
    };
  });
}
