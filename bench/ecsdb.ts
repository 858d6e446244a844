/**
 * ecsdb as a user would drive it: one `db.transact` per W1 commit, one per W2 tick, each
 * `tx.set(entity, Position, { x, y, z })` with a fresh object literal (what the public API takes).
 * W3 is one `db.transact` per operation: `tx.create()` and three `tx.add` per new entity, then
 * `tx.destroy` of each entity of the previous generation. W6 issues a round of W1 commits, then
 * awaits every one's `durable` together (buffered: after `db.flush()`).
 *
 * The database holds Position, Velocity and Health: the main world's entities have Position only,
 * W3's have all three.
 *
 * Modes that need files get a fresh temporary directory, removed on close. A mode `open`
 * rejects with CONFIG_INVALID (not built yet) is reported as n/a.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineComponent, isEcsdbError, open, t, type Commit, type Database, type EncryptionOptions, type Entity, type OpenOptions, type Transaction } from '../src/index.js';
import type { Engine, Opened } from './engine.js';
import type { DurableWait, Mode, Plan } from './plan.js';
import type { Runner } from './stats.js';
import {
  PointSequence,
  checkCount,
  checkReadBack,
  churnValuesAt,
  positionAt,
  tickIndex,
  tickStart,
  valueBase,
  type ChurnValues,
  type WorkloadId,
} from './workloads.js';

export const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
export const Velocity = defineComponent('Velocity', { dx: t.f32, dy: t.f32, dz: t.f32 });
export const Health = defineComponent('Health', { hp: t.i32 });

/**
 * Automatic snapshots off, for the directories of the WAL, W4 and W5 figures: the bench decides
 * when snapshots happen. (A snapshot would archive WAL segments, so wal/ would shrink, and let
 * `open()` start from it instead of replaying every commit.)
 */
const NO_AUTOMATIC_SNAPSHOTS = { snapshot: { everyCommits: 0, everyMs: 0, walBytesMax: 0 } };

/** A database in `dir` in a mode with a directory (buffered or strict), automatic snapshots off. */
export async function openDirectory(components: OpenOptions['components'], mode: Mode, dir: string): Promise<Database> {
  if (!mode.needsDir) throw new RangeError(`${mode.name} mode has no directory`);
  return open({ components, durability: mode.name, dir, ...NO_AUTOMATIC_SNAPSHOTS });
}

/**
 * Between the transactions that build a directory for W4 or W5: buffered lets the WAL writer's
 * background flushes run, as between a game's frames; strict waits until the last commit is
 * durable (a batch of commits issued together shares writes and fsyncs: group commit).
 */
export async function betweenBatches(mode: Mode, last: Commit<unknown>): Promise<void> {
  if (mode.durableWait === 'each') await last.durable;
  else await new Promise((resolve) => setImmediate(resolve));
}

/** What the bench varies in ecsdb's open() options beyond the mode. */
export type EcsdbOptions = Pick<OpenOptions, 'encryption' | 'wal'>;

export async function openEcsdb(plan: Plan, mode: Mode, options: EcsdbOptions = {}): Promise<Opened> {
  const dir = mode.needsDir ? mkdtempSync(join(tmpdir(), 'ecsdb-bench-')) : undefined;
  const removeDir = (): void => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  };
  let db: Database;
  try {
    db = await open({ components: [Position, Velocity, Health], durability: mode.name, ...(dir === undefined ? {} : { dir }), ...options });
  } catch (error) {
    removeDir();
    if (isEcsdbError(error, 'CONFIG_INVALID')) return { status: 'n/a', reason: error.message };
    throw error;
  }
  const close = async (): Promise<void> => {
    try {
      await db.close();
    } finally {
      removeDir();
    }
  };
  try {
    const entities = await populate(db, plan);
    const engine: Engine = {
      runner: (workload: WorkloadId) => runnerFor(workload, db, entities, plan, mode),
      close,
    };
    return { status: 'ok', engine };
  } catch (error) {
    await close();
    throw error;
  }
}

function runnerFor(workload: WorkloadId, db: Database, entities: readonly Entity[], plan: Plan, mode: Mode): Runner {
  switch (workload) {
    case 'W1':
      return pointRunner(db, entities, plan, mode.durableWait);
    case 'W2':
      return tickRunner(db, entities, plan, mode.durableWait);
    case 'W2C':
      return columnTickRunner(db, entities, plan, mode.durableWait);
    case 'W2L':
      return tickRunner(db, entities, plan, mode.durableWait, true);
    case 'W2CL':
      return columnTickRunner(db, entities, plan, mode.durableWait, true);
    case 'W3':
      return churnRunner(db, plan, mode.durableWait);
    case 'W6':
      return groupCommitRunner(db, entities, plan, mode.durableWait);
  }
}

/** Creates the world; entity index i gets Position { x: i, y: -1, z: -1 } (no workload writes -1). */
export async function populate(db: Database, plan: Plan): Promise<Entity[]> {
  const entities: Entity[] = [];
  for (let first = 0; first < plan.entityCount; first += plan.setupBatchEntityCount) {
    const end = Math.min(plan.entityCount, first + plan.setupBatchEntityCount);
    db.transact((tx) => {
      for (let index = first; index < end; index++) {
        const entity = tx.create();
        tx.add(entity, Position, { x: index, y: -1, z: -1 });
        entities.push(entity);
      }
    });
  }
  // Setup's own writes and fsyncs must not land in the first timed run.
  await db.flush();
  return entities;
}

/** W1's runner, which also hands out its single commit (W6 and the WAL figures reuse it). */
export interface PointRunner extends Runner {
  /** One W1 commit, the next in the sequence; returns without waiting for `durable`. */
  commitOne(): Commit<void>;
  /** Checks the last commit's write in `against` (default: the database the commits went to). */
  verify(against?: Database): void;
}

export function pointRunner(db: Database, entities: readonly Entity[], plan: Plan, wait: DurableWait): PointRunner {
  const sequence = new PointSequence(plan.entityCount);
  let seq = 0;
  const commitOne = (): Commit<void> => {
    seq++;
    const entity = entities[sequence.pointIndex(seq)];
    const x = valueBase(seq);
    return db.transact((tx) => tx.set(entity, Position, { x, y: x + 0.5, z: x + 0.25 }));
  };
  return {
    commitOne,
    run: loopWaiting(db, wait, commitOne),
    verify(against = db) {
      const index = sequence.pointIndex(seq);
      checkReadBack('ecsdb', index, against.get(entities[index], Position), positionAt(seq));
    },
  };
}

/**
 * How a `tx.set` tick passes its values: `fresh`, a new object literal per entity (W2, and W5's
 * main figure), or `reused`, one object per tick passed to every call (`set` copies the values
 * out, so a caller may reuse one): the same writes without the tick's own garbage, ~480 kB of
 * value objects per 10,000-entity tick (W5's second figure).
 */
export type TickValues = 'fresh' | 'reused';

/** W2's runner (W5 reuses it on its own world, through a plan whose entityCount is that world's). */
export function tickRunner(db: Database, entities: readonly Entity[], plan: Plan, wait: DurableWait, gameLoop = false, values: TickValues = 'fresh'): Runner {
  const count = plan.tickEntityCount;
  let seq = 0;
  const tickOne = (): Commit<void> => {
    seq++;
    const start = tickStart(seq, plan);
    const x = valueBase(seq);
    const y = x + 0.5;
    const z = x + 0.25;
    if (values === 'reused') {
      const value = { x, y, z };
      return db.transact((tx) => {
        for (let k = 0; k < count; k++) tx.set(entities[tickIndex(start, k, plan)], Position, value);
      });
    }
    return db.transact((tx) => {
      for (let k = 0; k < count; k++) tx.set(entities[tickIndex(start, k, plan)], Position, { x, y, z });
    });
  };
  return {
    run: gameLoop ? loopYielding(db, wait, tickOne) : loopWaiting(db, wait, tickOne),
    verify() {
      const index = tickIndex(tickStart(seq, plan), count - 1, plan);
      checkReadBack('ecsdb', index, db.get(entities[index], Position), positionAt(seq));
    },
  };
}

/**
 * W2 through `tx.setColumns`: the tick's entity ids and x, y, z columns are filled in place
 * (Float32Array, the field's own kind, as a physics step would hand them over), then one call
 * writes them all. The same writes, journal records and WAL record as W2.
 */
function columnTickRunner(db: Database, entities: readonly Entity[], plan: Plan, wait: DurableWait, gameLoop = false): Runner {
  const count = plan.tickEntityCount;
  const ids = new Float64Array(count);
  const xs = new Float32Array(count);
  const ys = new Float32Array(count);
  const zs = new Float32Array(count);
  let seq = 0;
  const tickOne = (): Commit<void> => {
    seq++;
    const start = tickStart(seq, plan);
    const x = valueBase(seq);
    for (let k = 0; k < count; k++) {
      ids[k] = entities[tickIndex(start, k, plan)];
      xs[k] = x;
      ys[k] = x + 0.5;
      zs[k] = x + 0.25;
    }
    return db.transact((tx) => tx.setColumns(ids, Position, { x: xs, y: ys, z: zs }));
  };
  return {
    run: gameLoop ? loopYielding(db, wait, tickOne) : loopWaiting(db, wait, tickOne),
    verify() {
      const index = tickIndex(tickStart(seq, plan), count - 1, plan);
      checkReadBack('ecsdb', index, db.get(entities[index], Position), positionAt(seq));
    },
  };
}

/**
 * W3: each operation is one transaction that creates `churnEntityCount` entities with Position,
 * Velocity and Health (fresh object literals, as W2's) and then destroys the generation the
 * operation before created. The first generation is created when the runner is made (untimed).
 */
function churnRunner(db: Database, plan: Plan, wait: DurableWait): Runner {
  const count = plan.churnEntityCount;
  let previous: Entity[] = new Array<Entity>(count);
  let next: Entity[] = new Array<Entity>(count);
  let seq = 0;
  const createGeneration = (tx: Transaction, into: Entity[], values: ChurnValues): void => {
    const { x, y, z, dx, dy, dz, hp } = values;
    for (let k = 0; k < count; k++) {
      const entity = tx.create();
      tx.add(entity, Position, { x, y, z });
      tx.add(entity, Velocity, { dx, dy, dz });
      tx.add(entity, Health, { hp });
      into[k] = entity;
    }
  };
  db.transact((tx) => createGeneration(tx, previous, churnValuesAt(seq)));
  const churnOne = (): Commit<void> => {
    seq++;
    const commit = db.transact((tx) => {
      createGeneration(tx, next, churnValuesAt(seq));
      for (let k = 0; k < count; k++) tx.destroy(previous[k]);
    });
    [previous, next] = [next, previous];
    return commit;
  };
  return {
    run: loopWaiting(db, wait, churnOne),
    verify() {
      checkCount('ecsdb', 'live entities after W3', db.entityCount, plan.entityCount + count);
      const expected = churnValuesAt(seq);
      for (const k of [0, count >> 1, count - 1]) {
        const entity = previous[k]; // the generation the last operation created
        checkReadBack('ecsdb', `W3 entity ${k} of the last generation`, { ...db.get(entity, Position), ...db.get(entity, Velocity), ...db.get(entity, Health) }, expected);
        if (db.exists(next[k])) throw new Error(`bench self-check failed: ecsdb W3 entity ${k} of the generation before the last is still alive`);
      }
    },
  };
}

/**
 * W6: each operation issues `groupCommitInFlight` W1 commits synchronously, then awaits all their
 * `durable` promises. Strict: the WAL writer can make them durable with one write and fsync.
 * Buffered: `db.flush()` first, else they would wait for the writer's flush interval (one write
 * and fsync too). Memory: their `durable` has resolved already.
 */
function groupCommitRunner(db: Database, entities: readonly Entity[], plan: Plan, wait: DurableWait): Runner {
  const inFlight = plan.groupCommitInFlight;
  const point = pointRunner(db, entities, plan, 'none');
  const commitOne = point.commitOne;
  const durables: Promise<void>[] = new Array<Promise<void>>(inFlight);
  return {
    async run(rounds) {
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < inFlight; i++) durables[i] = commitOne().durable;
        if (wait === 'flush') await db.flush();
        await Promise.all(durables);
      }
    },
    verify() {
      point.verify();
      if (db.durableLsn < db.lsn) {
        throw new Error(`bench self-check failed: W6 awaited every durable, yet durableLsn ${db.durableLsn} < lsn ${db.lsn}`);
      }
    },
  };
}

/**
 * A run of `ops` ticks as a game loop runs them (W2L, W2CL; see workloads.ts): one turn of the
 * event loop after each tick; buffered ends with a flush, strict keeps one tick's write in
 * flight behind the tick computing and ends with the last tick durable.
 */
function loopYielding(db: Database, wait: DurableWait, commitOne: () => Commit<void>): (ops: number) => Promise<void> {
  return async (ops) => {
    let previous: Promise<void> | undefined;
    for (let i = 0; i < ops; i++) {
      const { durable } = commitOne();
      if (wait === 'each' && previous !== undefined) await previous;
      previous = durable;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (wait === 'flush') await db.flush();
    else if (wait === 'each') await previous;
  };
}

/** A run of `ops` commits that waits for `durable` as the mode says (see DurableWait). */
function loopWaiting(db: Database, wait: DurableWait, commitOne: () => Commit<void>): (ops: number) => void | Promise<void> {
  switch (wait) {
    case 'none':
      return (ops) => {
        for (let i = 0; i < ops; i++) commitOne();
      };
    case 'flush':
      // Not `await lastCommit.durable`: that would also time the flush interval (and the interval
      // timer is unref'd, so with nothing else pending the process would exit mid-await).
      return (ops) => {
        for (let i = 0; i < ops; i++) commitOne();
        return db.flush();
      };
    case 'each':
      return async (ops) => {
        for (let i = 0; i < ops; i++) await commitOne().durable;
      };
  }
}
