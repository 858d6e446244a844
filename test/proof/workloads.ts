/**
 * The workloads of the crash matrix (test/proof/crash-matrix.test.ts), which the
 * crash-during-recovery test starts from too: seeded and deterministic, each with what its
 * complete run must be seen doing so that its crash states cover it.
 *
 * Size: ECSDB_CRASH_MATRIX_COMMITS commits per workload (default 260).
 *
 * Most workloads use `wal.syncMethod: 'fdatasync'`: its written-but-unsynced bytes are what
 * power loss tears and reorders, so it has the most crash states; the two strict group-commit
 * workloads use the default 'dsync' (O_DSYNC), whose writes are durable when they return.
 */
import { MANUAL_SNAPSHOTS, bulkThenWorkload } from '../helpers/snapshot-dir.js';
import { workloadStep } from '../helpers/workload.js';
import type { CrashWorkload } from '../helpers/crash-harness.js';

export const MATRIX_COMMITS = Number(process.env.ECSDB_CRASH_MATRIX_COMMITS ?? 260);
const at = (...fractions: number[]): number[] => fractions.map((fraction) => Math.floor(MATRIX_COMMITS * fraction));

/** What each workload must be seen doing in its complete run, so the states cover it. */
export interface Expectations {
  readonly minSegments?: number;
  readonly snapshots?: number;
  readonly incremental?: boolean;
  /** Segments moved into the archive, and archived segments deleted. */
  readonly archived?: boolean;
  readonly pruned?: boolean;
}

export const MATRIX_WORKLOADS: { workload: CrashWorkload; expect: Expectations }[] = [
  {
    workload: {
      id: 'matrix-buffered-bigbatch-s21',
      commits: MATRIX_COMMITS,
      step: (tx, index) => workloadStep(tx, 21, index),
      // Preallocated space smaller than a segment: zeros filled in the background between batches.
      options: { wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 6000, flushIntervalMs: 60_000, batchSizeBytesMax: 1500, preallocateBytes: 1000 } },
      strict: () => false,
      yieldAfter: (index) => index % 4 === 0,
    },
    expect: { minSegments: 2 },
  },
  {
    workload: {
      id: 'matrix-mixed-reopen-s22',
      commits: MATRIX_COMMITS,
      step: (tx, index) => workloadStep(tx, 22, index),
      // No preallocation: every write appends.
      options: { wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 600, preallocateBytes: 0 } },
      strict: (index) => index % 5 === 2,
      reopenAt: at(0.3, 0.65),
      yieldAfter: (index) => index % 3 === 1,
    },
    expect: { minSegments: 3 },
  },
  {
    workload: {
      id: 'matrix-chain3-keep1-compressed-s23',
      commits: MATRIX_COMMITS,
      step: bulkThenWorkload(23, 600),
      options: {
        wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 1200 },
        snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, keep: 1, fullEvery: 3, compress: true },
        archive: { compress: true, segmentCountMax: 0, sizeBytesMax: 1500 },
      },
      strict: (index) => index % 11 === 0,
      snapshotAt: at(0.2, 0.4, 0.6, 0.8),
      yieldAfter: (index) => index % 3 !== 0,
    },
    expect: { snapshots: 4, incremental: true, archived: true, pruned: true },
  },
  {
    workload: {
      id: 'matrix-auto-snapshots-strict-s24',
      commits: MATRIX_COMMITS,
      step: bulkThenWorkload(24, 200),
      options: {
        wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 800 },
        snapshot: { ...MANUAL_SNAPSHOTS, everyCommits: Math.floor(MATRIX_COMMITS / 4), chunkSlots: 256, keep: 2, fullEvery: 1 },
        archive: { compress: false, segmentCountMax: 1 },
      },
      strict: (index) => index % 3 === 0,
      yieldAfter: (index) => index % 2 === 0,
    },
    expect: { archived: true, pruned: true },
  },
  {
    workload: {
      id: 'matrix-incremental-reopen-s25',
      commits: MATRIX_COMMITS,
      step: bulkThenWorkload(25, 300),
      options: {
        wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 2048 },
        snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, keep: 2, fullEvery: 2 },
        archive: { compress: false, segmentCountMax: 2 },
      },
      strict: () => false,
      snapshotAt: at(0.25, 0.5, 0.75),
      reopenAt: at(0.55),
      yieldAfter: (index) => index % 3 !== 0,
    },
    expect: { snapshots: 3, incremental: true, archived: true },
  },
  {
    workload: {
      id: 'matrix-buffered-smallbatch-s26',
      commits: MATRIX_COMMITS,
      step: (tx, index) => workloadStep(tx, 26, index),
      options: { wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 250 } },
      strict: () => false,
      yieldAfter: (index) => index % 2 === 0,
    },
    expect: { minSegments: 3 },
  },
  {
    workload: {
      id: 'matrix-strict-groups-s27',
      commits: MATRIX_COMMITS,
      step: (tx, index) => workloadStep(tx, 27, index),
      // Strict commits made in one turn share a write and an fsync (group commit); the zeros
      // ahead of them are filled in the background while the next groups are written.
      options: { durability: 'strict', wal: { syncMethod: 'dsync', segmentSizeBytesMax: 8192, flushIntervalMs: 60_000, batchSizeBytesMax: 1 << 20, preallocateBytes: 1024 } },
      strict: () => true,
      yieldAfter: (index) => index % 6 === 5,
    },
    expect: { minSegments: 3 },
  },
  {
    workload: {
      id: 'matrix-auto-incremental-s28',
      commits: MATRIX_COMMITS,
      step: bulkThenWorkload(28, 300),
      options: {
        wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 1000 },
        snapshot: { ...MANUAL_SNAPSHOTS, everyCommits: Math.floor(MATRIX_COMMITS / 5), chunkSlots: 256, keep: 2, fullEvery: 2 },
        archive: { compress: true, segmentCountMax: 1 },
      },
      strict: (index) => index % 9 === 4,
      yieldAfter: (index) => index % 2 === 1,
    },
    expect: { archived: true, pruned: true },
  },
  {
    workload: {
      id: 'matrix-wal-bytes-trigger-s29',
      commits: MATRIX_COMMITS,
      step: bulkThenWorkload(29, 260),
      options: {
        wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 700 },
        snapshot: { ...MANUAL_SNAPSHOTS, walBytesMax: 5000, chunkSlots: 256, keep: 3, fullEvery: 4, compress: true },
        archive: { compress: false, segmentCountMax: 0, sizeBytesMax: 6000 },
      },
      strict: () => false,
      yieldAfter: (index) => index % 3 === 2,
    },
    expect: { archived: true },
  },
  {
    workload: {
      id: 'matrix-close-during-snapshot-s30',
      commits: MATRIX_COMMITS,
      step: bulkThenWorkload(30, 300),
      options: {
        wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 1500 },
        snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, keep: 2, fullEvery: 1 },
        archive: { compress: false, segmentCountMax: 1 },
      },
      strict: (index) => index % 4 === 0,
      // Each snapshot is requested, then the database is closed at once: close() waits for it.
      snapshotAt: at(0.3, 0.6, 0.9),
      reopenAt: at(0.3, 0.6),
      yieldAfter: (index) => index % 2 === 0,
    },
    expect: { snapshots: 3, archived: true, pruned: true },
  },
  {
    workload: {
      id: 'matrix-buffered-one-record-batches-s31',
      commits: MATRIX_COMMITS,
      step: (tx, index) => workloadStep(tx, 31, index),
      // Every buffered commit is its own batch: one write and one fsync each, in the background.
      options: { wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 1 } },
      strict: () => false,
      yieldAfter: (index) => index % 5 !== 4,
    },
    expect: { minSegments: 3 },
  },
  {
    workload: {
      id: 'matrix-strict-reopen-often-s32',
      commits: MATRIX_COMMITS,
      step: (tx, index) => workloadStep(tx, 32, index),
      options: { durability: 'strict', wal: { syncMethod: 'dsync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 1 << 20 } },
      strict: () => true,
      reopenAt: at(0.15, 0.3, 0.45, 0.6, 0.75, 0.9),
      yieldAfter: (index) => index % 4 === 0,
    },
    expect: { minSegments: 3 },
  },
  {
    workload: {
      id: 'matrix-records-over-segment-size-s33',
      commits: MATRIX_COMMITS,
      // Every 50th transaction creates 120 entities: one record larger than a whole segment.
      step: (tx, index) => (index % 50 === 0 ? bulkThenWorkload(33 + index, 120)(tx, 0) : workloadStep(tx, 33, index)),
      options: { wal: { syncMethod: 'fdatasync', segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 900 } },
      strict: (index) => index % 4 === 1,
      yieldAfter: (index) => index % 3 === 0,
    },
    expect: { minSegments: 4 },
  },
];
