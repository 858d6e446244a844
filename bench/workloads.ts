/**
 * The workloads, and the exact sequence of writes every engine performs for them, so ecsdb,
 * the raw arrays and SQLite do the same work:
 *
 * - W1 point commit: operation `seq` sets Position of the entity at index `pointIndex(seq)` (a
 *   stride through the world that visits every entity, not the same hot one) to
 *   `positionAt(seq)`.
 * - W2 tick: tick `seq` sets Position of `tickEntityCount` consecutive entities starting at
 *   `tickStart(seq)` (a window that moves along the world, wrapping) to `positionAt(seq)`.
 * - W3 churn: operation `seq` creates `churnEntityCount` entities, each with Position, Velocity and
 *   Health set to `churnValuesAt(seq)`, and destroys the `churnEntityCount` entities the operation
 *   before it created, in one transaction. The runner creates the first generation when it is
 *   made (untimed), so every timed operation creates and destroys as many entities and the world
 *   stays the same size: the main world plus one generation.
 * - W2L / W2CL, W2 / W2C in a game loop: the same ticks, but after each tick the loop yields one
 *   turn of the event loop (`await setImmediate`), as a game server's tick loop does for its
 *   network I/O, instead of running the ticks back to back in one synchronous stretch. That turn
 *   is what lets the WAL writer hand earlier ticks to the disk (libuv's thread pool, on the other
 *   core) while later ticks compute. Buffered: the run ends with `db.flush()`, as W2's does.
 *   Strict: after committing tick N the loop awaits tick N-1's `durable` before it yields, so
 *   one tick's write is in flight while the next one computes, and no tick starts before the one
 *   two before it is durable; the run ends by awaiting the last tick's `durable`. The yardsticks
 *   are W2's (a synchronous SQLite commit has nothing to overlap).
 * - W6 group commit: one operation is a round of `groupCommitInFlight` W1 commits. ecsdb issues
 *   them all before awaiting any `durable`, so (strict) they can share one write and fsync;
 *   buffered calls `db.flush()` before awaiting them, memory has nothing to wait for.
 *   better-sqlite3, which has no group commit, runs them as that many transactions (FULL: each
 *   with its own fsync).
 *
 * Values change on every write to an entity (SQLite skips rows whose values do not change,
 * and a bench that rewrote the same values would measure less than a real game loop does), and
 * are exact in f32 so a read-back check can compare them with `===`.
 */
import type { Plan } from './plan.js';

export type WorkloadId = 'W1' | 'W2' | 'W2C' | 'W2L' | 'W2CL' | 'W3' | 'W6';

export interface Workload {
  readonly id: WorkloadId;
  readonly title: string;
  /** What one operation is: 'commit' (W1), 'tick' (W2) or 'op' (W3). */
  readonly opUnit: string;
  /** Entity updates in one operation (W3: entities created; it destroys as many). */
  updatesPerOp(plan: Plan): number;
  /**
   * The same logical workload as this one, written through another ecsdb API: the raw arrays and
   * SQLite are measured once, under that id, and their figures reused for this row.
   */
  readonly sameWorkAs?: WorkloadId;
}

/** The workloads of the main table: every engine, every mode. */
export const WORKLOADS: readonly Workload[] = [
  { id: 'W1', title: 'point commit', opUnit: 'commit', updatesPerOp: () => 1 },
  { id: 'W2', title: 'tick', opUnit: 'tick', updatesPerOp: (plan) => plan.tickEntityCount },
  // W2 written with tx.setColumns (one call per tick, columns instead of an object per entity).
  { id: 'W2C', title: 'tick, setColumns', opUnit: 'tick', updatesPerOp: (plan) => plan.tickEntityCount, sameWorkAs: 'W2' },
  // W2 and W2C as a game server runs them: the event loop turns between ticks (see GAME_LOOP).
  { id: 'W2L', title: 'tick, game loop', opUnit: 'tick', updatesPerOp: (plan) => plan.tickEntityCount, sameWorkAs: 'W2' },
  { id: 'W2CL', title: 'tick, setColumns, game loop', opUnit: 'tick', updatesPerOp: (plan) => plan.tickEntityCount, sameWorkAs: 'W2' },
  { id: 'W3', title: 'churn', opUnit: 'op', updatesPerOp: (plan) => plan.churnEntityCount },
];

/** The workloads the yardsticks (raw arrays, SQLite) run: those that are not another's twin. */
export const PEER_WORKLOADS: readonly Workload[] = WORKLOADS.filter((workload) => workload.sameWorkAs === undefined);

/** W6, in every mode (the spec's figure is strict's); one entity update per commit. */
export const GROUP_COMMIT: Workload = {
  id: 'W6',
  title: 'commits in flight',
  opUnit: 'round',
  updatesPerOp: (plan) => plan.groupCommitInFlight,
};

/** Values repeat after this many operations; below 2^24, so they and `+ 0.5` are exact in f32. */
const VALUE_PERIOD = 1 << 22;

export interface Position {
  x: number;
  y: number;
  z: number;
}

/**
 * Operation `seq` writes x = valueBase(seq), y = x + 0.5, z = x + 0.25. Hot loops inline this
 * (no object per write unless the engine's API takes one); read-back checks use positionAt.
 */
export function valueBase(seq: number): number {
  return seq % VALUE_PERIOD;
}

export function positionAt(seq: number): Position {
  const base = valueBase(seq);
  return { x: base, y: base + 0.5, z: base + 0.25 };
}

/** What W3 writes into every entity operation `seq` creates (one object per operation, not per entity). */
export interface ChurnValues {
  x: number;
  y: number;
  z: number;
  dx: number;
  dy: number;
  dz: number;
  hp: number;
}

/** Position as positionAt(seq); Velocity and Health differ from it, so a mixed-up column shows. */
export function churnValuesAt(seq: number): ChurnValues {
  const base = valueBase(seq);
  return { x: base, y: base + 0.5, z: base + 0.25, dx: base + 0.75, dy: -base, dz: -base - 0.5, hp: base + 1 };
}

/** Walks all `entityCount` indices in a scattered order, so W1 does not hit one cached row. */
export class PointSequence {
  readonly #entityCount: number;
  readonly #stride: number;

  constructor(entityCount: number) {
    this.#entityCount = entityCount;
    this.#stride = coprimeStride(entityCount);
  }

  pointIndex(seq: number): number {
    return (seq * this.#stride) % this.#entityCount;
  }
}

export function tickStart(seq: number, plan: Plan): number {
  return (seq * plan.tickEntityCount) % plan.entityCount;
}

/** The index of the `offset`-th entity of the tick window starting at `start`. */
export function tickIndex(start: number, offset: number, plan: Plan): number {
  const index = start + offset;
  return index < plan.entityCount ? index : index - plan.entityCount;
}

/** A stride near 7919 that shares no factor with `n`, so `seq * stride % n` visits every index. */
function coprimeStride(n: number): number {
  let stride = 7919 % n || 1;
  while (gcd(stride, n) !== 1) stride++;
  return stride;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Throws when a read-back differs from what the workload wrote (in any field `expected` has):
 * the bench measured the wrong thing. `where` is an entity index, or a description.
 */
export function checkReadBack<T extends object>(engine: string, where: number | string, actual: T | undefined, expected: T): void {
  const differs = (key: string): boolean => (actual as Record<string, unknown>)[key] !== (expected as Record<string, unknown>)[key];
  if (actual === undefined || Object.keys(expected).some(differs)) {
    throw new Error(
      `bench self-check failed: ${engine} ${typeof where === 'number' ? `entity index ${where}` : where} holds ${JSON.stringify(actual)}, ` +
        `expected ${JSON.stringify(expected)}`,
    );
  }
}

/** Throws when a count the workload implies (entities, rows) is not what the engine holds. */
export function checkCount(engine: string, what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new Error(`bench self-check failed: ${engine} holds ${actual} ${what}, expected ${expected}`);
}
