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

export interface Plan {
  readonly scale: number;
  /** Entities in the world, each with Position. */
  readonly entityCount: number;
  /** Entities a W2 tick updates. */
  readonly tickEntityCount: number;
  /** Entities created per transaction while the world is set up. */
  readonly setupBatchEntityCount: number;
  readonly measure: MeasureSettings;
  readonly modes: readonly Mode[];
}

export const QUICK_SCALE = 0.01;
const ENTITY_COUNT_FULL = 100_000;
const TICK_ENTITY_COUNT_FULL = 10_000;
const RUN_TARGET_NS_FULL = 200e6;

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
