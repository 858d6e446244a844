/**
 * The ceiling: the same writes as plain stores into Float32Array columns, with no transaction,
 * validation, journal or log. ecsdb's figure divided by this one is what ecsdb adds.
 */
import type { Engine } from './engine.js';
import type { Plan } from './plan.js';
import type { Runner } from './stats.js';
import { PointSequence, checkReadBack, positionAt, tickIndex, tickStart, valueBase, type WorkloadId } from './workloads.js';

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
