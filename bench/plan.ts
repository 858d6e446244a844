/**
 * What the bench runs: the durability modes (each ecsdb mode paired with the better-sqlite3
 * `synchronous` setting that gives comparable guarantees) and the sizes, derived from one scale
 * factor (1 = the sizes in SPEC.md; `--quick` = 0.01 for a smoke run).
 */
import type { Durability } from '../src/index.js';
import type { MeasureSettings } from './stats.js';

export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL';

/** How a timed run of commits meets the disk. */
export type DurableWait =
  /** Not at all: memory commits are as durable as they get when `transact` returns. */
  | 'none'
  /**
   * The run's commits do not wait; the run ends with `db.flush()`, so its time includes making
   * every one of its commits durable (one write and fsync of the whole batch, amortized).
   */
  | 'flush'
  /** Every commit awaits its `durable`: one commit at a time, latency including the fsync. */
  | 'each';

export interface Mode {
  readonly name: Durability;
  readonly sqliteSynchronous: SqliteSynchronous;
  readonly durableWait: DurableWait;
  /** Whether ecsdb needs a data directory in this mode. */
  readonly needsDir: boolean;
}

/**
 * The pairs compared, weakest guarantee first. A mode that `open` rejects with CONFIG_INVALID
 * (not built yet) is reported as n/a; SQLite still runs, so its figure is there to compare with.
 */
export const MODES: readonly Mode[] = [
  { name: 'memory', sqliteSynchronous: 'OFF', durableWait: 'none', needsDir: false },
  { name: 'buffered', sqliteSynchronous: 'NORMAL', durableWait: 'flush', needsDir: true },
  { name: 'strict', sqliteSynchronous: 'FULL', durableWait: 'each', needsDir: true },
];

/** The physical floor: small appends to a file, each followed by fdatasync (node:fs, sync API). */
export interface FsyncFloorSettings {
  readonly appendSizeBytes: number;
  /** Discarded appends first (file creation, first block allocation). */
  readonly warmupAppends: number;
  /** Timed appends, unless `durationMsMax` runs out first. */
  readonly appends: number;
  readonly durationMsMax: number;
}

/** W4: a directory holding `commitCount` W1 commits after the world's creation, reopened `opens` times. */
export interface ReplaySettings {
  readonly commitCount: number;
  /** Timed opens; the figure is their median. */
  readonly opens: number;
  /** Commits per synchronous chunk while the directory is built; the WAL writer flushes between chunks. */
  readonly chunkCommitCount: number;
  /** Building the directory, or one open, fails the figure after this long instead of hanging. */
  readonly deadlineMs: number;
}

/**
 * W4 from a snapshot and W5 (issue 4): a world of `entityCount` entities with Position, Velocity
 * and Health, in buffered mode with automatic snapshots off.
 */
export interface SnapshotSettings {
  readonly entityCount: number;
  /** Entities a W5 tick updates (W2's tick size, at most the world). */
  readonly tickEntityCount: number;
  /** W4: timed opens of the snapshot directory; the figure is their median. */
  readonly opens: number;
  /** W5: snapshots taken while ticking and not counted, before the measured ones (JIT warm-up). */
  readonly warmupSnapshots: number;
  /** W5: measured snapshots; the time until durable is their median, the pause their maximum. */
  readonly snapshotRuns: number;
  /** W5: how long the tick loop runs alone first, for the baseline pause (and warm-up). */
  readonly baselineMs: number;
  /** Building a world, one open, or one W5 snapshot fails the figure after this long instead of hanging. */
  readonly deadlineMs: number;
}

export interface Plan {
  readonly scale: number;
  /** Entities in the world, each with Position. */
  readonly entityCount: number;
  /** Entities a W2 tick updates. */
  readonly tickEntityCount: number;
  /** Entities a W3 operation creates (with Position, Velocity and Health), and destroys. */
  readonly churnEntityCount: number;
  /** Entities created per transaction while the world is set up. */
  readonly setupBatchEntityCount: number;
  readonly measure: MeasureSettings;
  readonly modes: readonly Mode[];
  readonly fsyncFloor: FsyncFloorSettings;
  /** W6: strict W1 commits issued before any `durable` is awaited (1,000 in the spec). */
  readonly groupCommitInFlight: number;
  /** W1 commits whose WAL growth gives the bytes per commit. */
  readonly walBytesCommitCount: number;
  readonly replay: ReplaySettings;
  readonly snapshot: SnapshotSettings;
}

export const QUICK_SCALE = 0.01;
const ENTITY_COUNT_FULL = 100_000;
const TICK_ENTITY_COUNT_FULL = 10_000;
const CHURN_ENTITY_COUNT_FULL = 10_000;
const RUN_TARGET_NS_FULL = 200e6;
const GROUP_COMMIT_IN_FLIGHT_FULL = 1_000;
const WAL_BYTES_COMMIT_COUNT_FULL = 10_000;
const REPLAY_COMMIT_COUNT_FULL = 1_000_000;
const SNAPSHOT_ENTITY_COUNT_FULL = 1_000_000;

export function planFor(scale: number, modes: readonly Mode[] = MODES): Plan {
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`scale must be a positive number, got ${scale}`);
  const entityCount = Math.max(100, Math.round(ENTITY_COUNT_FULL * scale));
  const tickEntityCount = Math.min(entityCount, Math.max(10, Math.round(TICK_ENTITY_COUNT_FULL * scale)));
  const small = scale < 0.5;
  const runTargetNs = Math.max(10e6, RUN_TARGET_NS_FULL * Math.min(scale, 1));
  return {
    scale,
    entityCount,
    tickEntityCount,
    churnEntityCount: Math.max(10, Math.round(CHURN_ENTITY_COUNT_FULL * scale)),
    setupBatchEntityCount: 10_000,
    measure: {
      warmupRuns: small ? 1 : 2,
      runs: small ? 3 : 7,
      runTargetNs,
      calibrationNs: runTargetNs / 10,
      opsPerRunMax: 5_000_000,
      runDeadlineMs: Math.max(10_000, (100 * runTargetNs) / 1e6),
    },
    modes,
    fsyncFloor: {
      appendSizeBytes: 40,
      warmupAppends: 10,
      appends: small ? 100 : 1_000,
      durationMsMax: small ? 1_000 : 5_000,
    },
    // The spec's 1,000 down to --quick; fewer only below that, so the test's tiny run stays fast
    // (better-sqlite3's side of W6 is that many FULL transactions, each with its own fsync).
    groupCommitInFlight: Math.min(GROUP_COMMIT_IN_FLIGHT_FULL, Math.max(10, Math.round(GROUP_COMMIT_IN_FLIGHT_FULL * 100 * scale))),
    walBytesCommitCount: Math.max(1_000, Math.round(WAL_BYTES_COMMIT_COUNT_FULL * Math.min(scale, 1))),
    replay: {
      commitCount: Math.max(1_000, Math.round(REPLAY_COMMIT_COUNT_FULL * scale)),
      opens: small ? 3 : 5,
      chunkCommitCount: 10_000,
      deadlineMs: Math.max(30_000, 180_000 * Math.min(scale, 1)),
    },
    snapshot: snapshotSettingsFor(scale, tickEntityCount, small),
  };
}

function snapshotSettingsFor(scale: number, tickEntityCount: number, small: boolean): SnapshotSettings {
  const entityCount = Math.max(1_000, Math.round(SNAPSHOT_ENTITY_COUNT_FULL * scale));
  return {
    entityCount,
    tickEntityCount: Math.min(entityCount, tickEntityCount),
    opens: small ? 3 : 5,
    warmupSnapshots: 1,
    snapshotRuns: 3,
    baselineMs: small ? 100 : 1_000,
    deadlineMs: Math.max(30_000, 180_000 * Math.min(scale, 1)),
  };
}

/** The modes named in a comma-separated list, in MODES order. */
export function modesNamed(list: string): Mode[] {
  const names = list
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (!MODES.some((mode) => mode.name === name)) {
      throw new RangeError(`unknown mode ${JSON.stringify(name)}; modes are ${MODES.map((mode) => mode.name).join(', ')}`);
    }
  }
  if (names.length === 0) throw new RangeError('no mode given');
  return MODES.filter((mode) => names.includes(mode.name));
}
