/**
 * ecsdb as a user would drive it: one `db.transact` per W1 commit, one per W2 tick, each
 * `tx.set(entity, Position, { x, y, z })` with a fresh object literal (what the public API takes).
 *
 * Modes that need files get a fresh temporary directory, removed on close. A mode `open`
 * rejects with CONFIG_INVALID (not built yet) is reported as n/a.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineComponent, isEcsdbError, open, t, type Commit, type Database, type Entity } from '../src/index.js';
import type { Engine, Opened } from './engine.js';
import type { DurableWait, Mode, Plan } from './plan.js';
import type { Runner } from './stats.js';
import { PointSequence, checkReadBack, positionAt, tickIndex, tickStart, valueBase, type WorkloadId } from './workloads.js';

const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });

export async function openEcsdb(plan: Plan, mode: Mode): Promise<Opened> {
  const dir = mode.needsDir ? mkdtempSync(join(tmpdir(), 'ecsdb-bench-')) : undefined;
  const removeDir = (): void => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  };
  let db: Database;
  try {
    db = await open({ components: [Position], durability: mode.name, ...(dir === undefined ? {} : { dir }) });
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
      runner: (workload: WorkloadId) =>
        workload === 'W1' ? pointRunner(db, entities, plan, mode.durableWait) : tickRunner(db, entities, plan, mode.durableWait),
      close,
    };
    return { status: 'ok', engine };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Creates the world; entity index i gets Position { x: i, y: -1, z: -1 } (no workload writes -1). */
async function populate(db: Database, plan: Plan): Promise<Entity[]> {
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

function pointRunner(db: Database, entities: readonly Entity[], plan: Plan, wait: DurableWait): Runner {
  const sequence = new PointSequence(plan.entityCount);
  let seq = 0;
  const commitOne = (): Commit<void> => {
    seq++;
    const entity = entities[sequence.pointIndex(seq)];
    const x = valueBase(seq);
    return db.transact((tx) => tx.set(entity, Position, { x, y: x + 0.5, z: x + 0.25 }));
  };
  return {
    run: loopWaiting(db, wait, commitOne),
    verify() {
      const index = sequence.pointIndex(seq);
      checkReadBack('ecsdb', index, db.get(entities[index], Position), positionAt(seq));
    },
  };
}

function tickRunner(db: Database, entities: readonly Entity[], plan: Plan, wait: DurableWait): Runner {
  const count = plan.tickEntityCount;
  let seq = 0;
  const tickOne = (): Commit<void> => {
    seq++;
    const start = tickStart(seq, plan);
    const x = valueBase(seq);
    const y = x + 0.5;
    const z = x + 0.25;
    return db.transact((tx) => {
      for (let k = 0; k < count; k++) tx.set(entities[tickIndex(start, k, plan)], Position, { x, y, z });
    });
  };
  return {
    run: loopWaiting(db, wait, tickOne),
    verify() {
      const index = tickIndex(tickStart(seq, plan), count - 1, plan);
      checkReadBack('ecsdb', index, db.get(entities[index], Position), positionAt(seq));
    },
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
