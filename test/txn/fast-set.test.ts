/**
 * The fast path of `tx.set` (src/txn/fast-set.ts) against the separate check, journal and write
 * steps it replaces: the same worlds, write sets, errors and rollbacks for any sequence of
 * transactions, and each given value read once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defineComponent, open, t, type Entity } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { encodeWriteSet } from '../../src/txn/write-set.js';
import { fastSetOf } from '../../src/txn/fast-set.js';
import type { Transaction } from '../../src/txn/transaction.js';
import { World } from '../../src/world/world.js';
import { AllTypes, Health, Name, Position, Target } from '../helpers/fixtures.js';
import { InternalDb } from '../helpers/internal-tx.js';
import { dumpWorld } from '../helpers/world-dump.js';

/** Every scalar field type (AllTypes without its string and array fields): the fast path's widest table. */
const Scalars = defineComponent(
  'Scalars',
  Object.fromEntries(Object.entries(AllTypes.fields).filter(([, type]) => type.kind !== 'string' && type.kind !== 'array')) as Omit<
    (typeof AllTypes)['fields'],
    'string' | 'vec3' | 'bytes'
  >,
);
const COMPONENTS = [Position, Scalars, Health, Target, Name, AllTypes] as const;
const ENTITIES = 6;

describe('fastSetOf', () => {
  it('compiles for tables whose fields are all numeric scalars, and only for those', () => {
    const world = new World(COMPONENTS);
    const compiled = world.tables.map((table) => [table.def.name, fastSetOf(table) !== undefined]);
    expect(compiled).toEqual([
      ['Position', true],
      ['Scalars', true],
      ['Health', true],
      ['Target', true],
      ['Name', false],
      ['AllTypes', false],
    ]);
  });
});

/** A value for one field: mostly valid (edge values included), sometimes not. */
const scalarValue = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 127, -128, 255, 256, 65535, -32768, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, 0.5, NaN, Infinity, -Infinity, 3.5e38, 1e300),
  fc.integer({ min: -300, max: 70_000 }),
  fc.double({ noDefaultInfinity: true }),
  fc.constantFrom(true, false, null, undefined, '1', [1], {}),
);

type Op =
  | { kind: 'set'; component: 0 | 1 | 2 | 3; entity: number; fields: Record<string, unknown> }
  | { kind: 'setRef'; entity: number; target: number; dead: boolean }
  | { kind: 'badShape'; entity: number; value: unknown }
  | { kind: 'remove'; entity: number }
  | { kind: 'destroyAndCreate'; entity: number };

const FIELD_NAMES: readonly (readonly string[])[] = [
  ['x', 'y', 'z'],
  ['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'f32', 'f64', 'bool'],
  ['hp'],
  [],
];

const setOp = fc.integer({ min: 0, max: 2 }).chain((component) =>
  fc.record({
    kind: fc.constant('set' as const),
    component: fc.constant(component as 0 | 1 | 2),
    entity: fc.nat({ max: ENTITIES - 1 }),
    fields: fc.dictionary(fc.constantFrom(...FIELD_NAMES[component], 'unknown'), scalarValue, { maxKeys: 4 }),
  }),
);

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: setOp },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('setRef' as const), entity: fc.nat({ max: ENTITIES - 1 }), target: fc.nat({ max: ENTITIES - 1 }), dead: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('badShape' as const),
      entity: fc.nat({ max: ENTITIES - 1 }),
      value: fc.constantFrom(null, undefined, 5, 'x', [1, 2, 3], Object.create({ x: 1 }) as unknown),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), entity: fc.nat({ max: ENTITIES - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('destroyAndCreate' as const), entity: fc.nat({ max: ENTITIES - 1 }) }) },
);

const DEFS = [Position, Scalars, Health, Target] as const;

/** Runs one op; returns the error code it threw ('' for none). Entities are tracked by index. */
function run(tx: Transaction, ids: Entity[], dead: Entity[], step: Op): string {
  try {
    switch (step.kind) {
      case 'set':
        // The values are random, valid or not: typed loosely on purpose.
        tx.set(ids[step.entity], DEFS[step.component] as typeof Position, step.fields as never);
        break;
      case 'setRef':
        tx.set(ids[step.entity], Target, { entity: step.dead && dead.length > 0 ? dead[dead.length - 1] : ids[step.target] });
        break;
      case 'badShape':
        tx.set(ids[step.entity], Position, step.value as never);
        break;
      case 'remove':
        tx.remove(ids[step.entity], Position);
        break;
      case 'destroyAndCreate': {
        dead.push(ids[step.entity]);
        tx.destroy(ids[step.entity]);
        const fresh = tx.create();
        for (const def of DEFS) tx.add(fresh, def as typeof Position, (def === Target ? { entity: null } : {}) as never);
        ids[step.entity] = fresh;
        break;
      }
    }
    return '';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe('tx.set through the fast path', () => {
  it('gives the same worlds, write sets, errors and rollbacks as the separate steps', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ ops: fc.array(op, { minLength: 1, maxLength: 12 }), abort: fc.boolean() }), { minLength: 1, maxLength: 6 }), (transactions) => {
        const fast = new InternalDb(COMPONENTS);
        const slow = new InternalDb(COMPONENTS, { fastSets: false });
        const state = [fast, slow].map((db) => {
          const ids = db.transact((tx) =>
            Array.from({ length: ENTITIES }, (_, i) => {
              const e = tx.create();
              tx.add(e, Position, { x: i, y: -i, z: 0.5 });
              tx.add(e, Scalars, { i32: i });
              tx.add(e, Health, { hp: i });
              tx.add(e, Target, { entity: null });
              return e;
            }),
          ).value;
          return { db, ids, dead: [] as Entity[] };
        });
        for (const { ops, abort } of transactions) {
          const outcomes = state.map(({ db, ids, dead }) => {
            const idsBefore = [...ids];
            const deadBefore = [...dead];
            const codes: string[] = [];
            try {
              const commit = db.transact((tx) => {
                for (const step of ops) codes.push(run(tx, ids, dead, step));
                if (abort) throw new Error('abort');
              });
              return { codes, bytes: encodeWriteSet(commit.writeSet, db.schema), live: commit.liveBytes };
            } catch {
              ids.splice(0, ids.length, ...idsBefore);
              dead.splice(0, dead.length, ...deadBefore);
              return { codes, bytes: undefined, live: undefined };
            }
          });
          expect(outcomes[0].codes).toEqual(outcomes[1].codes);
          expect(dumpWorld(fast.world)).toEqual(dumpWorld(slow.world));
          if (outcomes[0].bytes === undefined || outcomes[1].bytes === undefined) {
            expect(outcomes[0].bytes).toBe(outcomes[1].bytes);
            continue;
          }
          expect(Buffer.from(outcomes[0].bytes).equals(Buffer.from(outcomes[1].bytes))).toBe(true);
          expect(Buffer.from(outcomes[0].live!).equals(Buffer.from(outcomes[1].live!))).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reads each given value once, so what is checked is what is written', () => {
    const db = new InternalDb([Position]);
    const e = db.transact((tx) => {
      const created = tx.create();
      tx.add(created, Position);
      return created;
    }).value;
    let reads = 0;
    const value = {
      get x(): number {
        reads++;
        // Valid the first time only: a second read would see a value the check never saw.
        return reads === 1 ? 2.5 : 1e300;
      },
    };
    db.transact((tx) => tx.set(e, Position, value));
    expect(reads).toBe(1);
    expect(db.world.tables[0].columnList[0][0]).toBe(2.5);
  });

  it('logs and rolls back a set whose getter removed the component, as the separate steps do', () => {
    const outcomes = [true, false].map((fastSets) => {
      const db = new InternalDb([Position, Health], { fastSets });
      const e = db.transact((tx) => {
        const created = tx.create();
        tx.add(created, Position, { x: 1, y: 2, z: 3 });
        tx.add(created, Health, { hp: 7 });
        return created;
      }).value;
      const commit = db.transact((tx) =>
        tx.set(e, Position, {
          get x(): number {
            tx.remove(e, Position);
            tx.set(e, Health, { hp: 8 });
            return 4;
          },
        }),
      );
      const after = dumpWorld(db.world);
      // A getter that destroys the entity, then an abort: everything rolls back. (The separate
      // steps read the value twice, so the getter must not fail the second time.)
      expect(() =>
        db.transact((tx) => {
          tx.set(e, Health, {
            get hp(): number {
              if (tx.exists(e)) tx.destroy(e);
              return 9;
            },
          });
          throw new Error('abort');
        }),
      ).toThrow('abort');
      expect(dumpWorld(db.world)).toEqual(after);
      return { after, bytes: encodeWriteSet(commit.writeSet, db.schema) };
    });
    expect(outcomes[0].after).toEqual(outcomes[1].after);
    expect(Buffer.from(outcomes[0].bytes).equals(Buffer.from(outcomes[1].bytes))).toBe(true);
  });

  it('marks the chunk it writes dirty, so an incremental snapshot holds the change', async () => {
    const storage = new SimulatedStorage();
    const options = { dir: '/db', storage, components: [Position], snapshot: { chunkSlots: 256, fullEvery: 4, everyCommits: 0, everyMs: 0, walBytesMax: 0 } };
    const db = await open(options);
    const ids = db.transact((tx) =>
      Array.from({ length: 1_000 }, (_, i) => {
        const e = tx.create();
        tx.add(e, Position, { x: i });
        return e;
      }),
    ).value;
    const full = await db.snapshot();
    // The only change: one entity in the third chunk, written by the fast path alone.
    db.transact((tx) => tx.set(ids[600], Position, { y: 42 }));
    const incremental = await db.snapshot();
    expect(incremental.base).toBe(full.file);
    await db.close();
    const reopened = await open(options);
    expect(reopened.recovery!.snapshot!.file).toBe(incremental.file);
    expect(reopened.get(ids[600], Position)).toEqual({ x: 600, y: 42, z: 0 });
    await reopened.close();
  });
});
