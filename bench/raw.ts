/**
 * The ceiling: the same writes as plain stores into Float32Array columns, with no transaction,
 * validation, journal or log. ecsdb's figure divided by this one is what ecsdb adds.
 *
 * W3's ceiling has its own columns with room for two generations (Position, Velocity: f32;
 * Health: i32), an alive flag per slot and a free list of slots (a stack): a create pops a slot,
 * sets its flag and stores the seven values; a destroy clears the flag and pushes the slot.
 */
import type { Engine } from './engine.js';
import type { Plan } from './plan.js';
import type { Runner } from './stats.js';
import { PointSequence, checkCount, checkReadBack, churnValuesAt, positionAt, tickIndex, tickStart, valueBase, type WorkloadId } from './workloads.js';

interface Columns {
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly z: Float32Array;
}

export function openRaw(plan: Plan): Engine {
  const columns: Columns = {
    x: new Float32Array(plan.entityCount),
    y: new Float32Array(plan.entityCount),
    z: new Float32Array(plan.entityCount),
  };
  for (let index = 0; index < plan.entityCount; index++) {
    columns.x[index] = index;
    columns.y[index] = -1;
    columns.z[index] = -1;
  }
  return {
    runner: (workload: WorkloadId) => {
      if (workload === 'W6') throw new RangeError('W6 (group commit) has no raw-array counterpart: there is nothing to make durable');
      if (workload === 'W3') return churnRunner(plan);
      return workload === 'W1' ? pointRunner(columns, plan) : tickRunner(columns, plan); // W2C is W2's twin
    },
    close: async () => undefined,
  };
}

function pointRunner({ x, y, z }: Columns, plan: Plan): Runner {
  const sequence = new PointSequence(plan.entityCount);
  let seq = 0;
  return {
    run(ops) {
      for (let i = 0; i < ops; i++) {
        seq++;
        const index = sequence.pointIndex(seq);
        const base = valueBase(seq);
        x[index] = base;
        y[index] = base + 0.5;
        z[index] = base + 0.25;
      }
    },
    verify() {
      const index = sequence.pointIndex(seq);
      checkReadBack('raw', index, { x: x[index], y: y[index], z: z[index] }, positionAt(seq));
    },
  };
}

function tickRunner({ x, y, z }: Columns, plan: Plan): Runner {
  const count = plan.tickEntityCount;
  let seq = 0;
  return {
    run(ops) {
      for (let i = 0; i < ops; i++) {
        seq++;
        const start = tickStart(seq, plan);
        const base = valueBase(seq);
        for (let k = 0; k < count; k++) {
          const index = tickIndex(start, k, plan);
          x[index] = base;
          y[index] = base + 0.5;
          z[index] = base + 0.25;
        }
      }
    },
    verify() {
      const index = tickIndex(tickStart(seq, plan), count - 1, plan);
      checkReadBack('raw', index, { x: x[index], y: y[index], z: z[index] }, positionAt(seq));
    },
  };
}

function churnRunner(plan: Plan): Runner {
  const count = plan.churnEntityCount;
  const slots = 2 * count;
  const [x, y, z, dx, dy, dz] = Array.from({ length: 6 }, () => new Float32Array(slots));
  const hp = new Int32Array(slots);
  const alive = new Uint8Array(slots);
  const free = new Int32Array(slots);
  let freeCount = 0;
  for (let slot = slots - 1; slot >= 0; slot--) free[freeCount++] = slot;
  let previous = new Int32Array(count);
  let next = new Int32Array(count);
  let seq = 0;
  const createGeneration = (into: Int32Array): void => {
    const values = churnValuesAt(seq);
    for (let k = 0; k < count; k++) {
      const slot = free[--freeCount];
      alive[slot] = 1;
      x[slot] = values.x;
      y[slot] = values.y;
      z[slot] = values.z;
      dx[slot] = values.dx;
      dy[slot] = values.dy;
      dz[slot] = values.dz;
      hp[slot] = values.hp;
      into[k] = slot;
    }
  };
  createGeneration(previous);
  return {
    run(ops) {
      for (let i = 0; i < ops; i++) {
        seq++;
        createGeneration(next);
        for (let k = 0; k < count; k++) {
          const slot = previous[k];
          alive[slot] = 0;
          free[freeCount++] = slot;
        }
        [previous, next] = [next, previous];
      }
    },
    verify() {
      checkCount('raw', 'live W3 slots', alive.reduce((sum, flag) => sum + flag, 0), count);
      for (const k of [0, count >> 1, count - 1]) {
        const slot = previous[k];
        const actual = alive[slot] === 1 ? { x: x[slot], y: y[slot], z: z[slot], dx: dx[slot], dy: dy[slot], dz: dz[slot], hp: hp[slot] } : undefined;
        checkReadBack('raw', `W3 entity ${k} of the last generation`, actual, churnValuesAt(seq));
      }
    },
  };
}
