/**
 * `tx.setColumns` is a sequence of `tx.set` calls written column-wise: these tests hold it to
 * exactly that (same world, same write set bytes, same replay), to all-or-nothing on bad input,
 * and to rollback; a property test runs random column writes against the plain model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { EcsdbError, open, type Entity } from '../../src/index.js';
import { ByteReader } from '../../src/encoding/bytes.js';
import { applyEncodedWriteSet } from '../../src/txn/apply.js';
import { encodeWriteSet } from '../../src/txn/write-set.js';
import { expectEcsdbError } from '../helpers/errors.js';
import { AllTypes, Health, Position } from '../helpers/fixtures.js';
import type { Transaction } from '../../src/txn/transaction.js';
import { InternalDb } from '../helpers/internal-tx.js';
import { Model } from '../helpers/model.js';
import { dumpWorld } from '../helpers/world-dump.js';

const COMPONENTS = [Position, Health, AllTypes] as const;

/** A world of `count` entities, each with Position and Health, and every other one AllTypes. */
function worldOf(count: number): { db: InternalDb; entities: Entity[] } {
  const db = new InternalDb(COMPONENTS);
  const entities = db.transact((tx) => {
    const created: Entity[] = [];
    for (let i = 0; i < count; i++) {
      const e = tx.create();
      tx.add(e, Position, { x: i, y: -i, z: 0.5 });
      tx.add(e, Health, { hp: i });
      if (i % 2 === 0) tx.add(e, AllTypes, { string: `s${i}` });
      created.push(e);
    }
    return created;
  }).value;
  return { db, entities };
}

describe('Transaction#setColumns() with inputs that run code or alias the table', () => {
  it('a setColumns called from inside another (a getter of the outer call\'s column) changes nothing of the outer call', () => {
    const { db, entities } = worldOf(6);
    db.transact((tx) => {
      let inner = false;
      const hp = [10, 20, 30];
      // Index 0 is read when the outer call copies its columns, before it checks or writes anything.
      Object.defineProperty(hp, 0, {
        get() {
          if (!inner) {
            inner = true;
            tx.setColumns([entities[3], entities[4], entities[5]], Position, { x: [1, 2, 3] });
          }
          return 10;
        },
      });
      tx.setColumns([entities[0], entities[1], entities[2]], Health, { hp });
    });
    expect(entities.map((e) => db.world.tables[1].columnList[0][e])).toEqual([10, 20, 30, 3, 4, 5]);
    expect(entities.slice(3).map((e) => db.world.tables[0].columnList[0][e])).toEqual([1, 2, 3]);
  });

  it('a setColumns from a getter of the outer call\'s ids (typed-array ids inside) leaves the outer call\'s slots alone', () => {
    const { db, entities } = worldOf(6);
    db.transact((tx) => {
      let inner = false;
      const ids = [entities[0], entities[1], entities[2]];
      // Index 1 is read after the outer call has resolved index 0 to its slot.
      Object.defineProperty(ids, 1, {
        get() {
          if (!inner) {
            inner = true;
            tx.setColumns(Float64Array.from([entities[5], entities[4], entities[3]]), Health, { hp: Int32Array.from([-5, -4, -3]) });
          }
          return entities[1];
        },
      });
      tx.setColumns(ids, Position, { x: Float32Array.from([100, 101, 102]) });
    });
    expect(entities.map((e) => db.world.tables[0].columnList[0][e])).toEqual([100, 101, 102, 3, 4, 5]);
    expect(entities.map((e) => db.world.tables[1].columnList[0][e])).toEqual([0, 1, 2, -3, -4, -5]);
  });

  // A typed-array subclass's `length` or `buffer` getter runs user code after the call has
  // taken its slot arrays (the world's shared pair, for typed-array ids): a setColumns from it
  // must get arrays of its own, and both calls must land exactly as per-entity sets would.
  it.each([
    ['a length getter (read while checking)', 'length', 3],
    ['a buffer getter (read while writing, after the journal has the before-images)', 'buffer', 1],
  ] as const)('a setColumns from %s of the outer call\'s typed-array subclass column lands exactly', (_label, getter, fireAt) => {
    const writes = (tx: Transaction, entities: Entity[], nested: boolean): void => {
      const inner = (): void => tx.setColumns(Float64Array.from([entities[5], entities[4], entities[3]]), Position, { x: Float32Array.from([-1, -2, -3]) });
      if (!nested) {
        inner();
        for (const [k, hp] of [10, 20, 30].entries()) tx.set(entities[k], Health, { hp });
        return;
      }
      let reads = 0;
      // Not the field's own kind (i32), so its values are checked one by one, reading length.
      class TrickyLength extends Float64Array {
        override get length(): number {
          if (++reads === fireAt) inner();
          return super.length;
        }
      }
      // The field's own kind: copied by runs, through its buffer.
      class TrickyBuffer extends Int32Array {
        override get buffer(): ArrayBuffer {
          if (++reads === fireAt) inner();
          return super.buffer as ArrayBuffer;
        }
      }
      const hp = (getter === 'length' ? TrickyLength : TrickyBuffer).from([10, 20, 30]) as unknown as Int32Array;
      tx.setColumns(Float64Array.from([entities[0], entities[1], entities[2]]), Health, { hp });
      expect(reads, 'the getter ran and fired the inner call').toBeGreaterThanOrEqual(fireAt);
    };
    const columnsOf = (db: InternalDb): number[][] => [0, 1].map((t) => Array.from(db.world.tables[t].columnList[0] as Float32Array | Int32Array));
    const nested = worldOf(6);
    const plain = worldOf(6);
    // Rolled back, both calls leave nothing behind: the journal saved every before-image.
    const before = columnsOf(nested.db);
    expect(() =>
      nested.db.transact((tx) => {
        writes(tx, nested.entities, true);
        throw new Error('roll back');
      }),
    ).toThrow('roll back');
    expect(columnsOf(nested.db)).toEqual(before);
    const nestedBytes = nested.db.transact((tx) => writes(tx, nested.entities, true)).liveBytes;
    expect(nested.entities.map((e) => nested.db.world.tables[1].columnList[0][e])).toEqual([10, 20, 30, 3, 4, 5]);
    expect(nested.entities.map((e) => nested.db.world.tables[0].columnList[0][e])).toEqual([0, 1, 2, -3, -2, -1]);
    expect(nestedBytes, 'the write set is that of the same sets made one by one').toEqual(plain.db.transact((tx) => writes(tx, plain.entities, false)).liveBytes);
  });

  it('reads each value of a plain column once: what is checked is what is written', () => {
    const { db, entities } = worldOf(2);
    const names = ['a', 'b'];
    let reads = 0;
    // A getter that answers a valid string first and a number afterwards.
    Object.defineProperty(names, 1, { get: () => (reads++ === 0 ? 'ok' : 42) });
    db.transact((tx) => tx.setColumns([entities[0], entities[0]], AllTypes, { string: names }));
    expect(reads).toBe(1);
    expect(db.transact((tx) => tx.get(entities[0], AllTypes)).value?.string).toBe('ok');
  });

  it('a column that is a view of the table\'s own column is read as a sequence of sets would read it', () => {
    const { db, entities } = worldOf(4);
    const hpColumn = db.world.tables[1].columnList[0] as Int32Array;
    const single = worldOf(4);
    db.transact((tx) => tx.setColumns([entities[1], entities[2], entities[3]], Health, { hp: hpColumn.subarray(0, 3) }));
    single.db.transact((tx) => {
      const column = single.db.world.tables[1].columnList[0] as Int32Array;
      for (let i = 0; i < 3; i++) tx.set(single.entities[i + 1], Health, { hp: column[i] });
    });
    expect(Array.from(hpColumn.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(dumpWorld(db.world)).toEqual(dumpWorld(single.db.world));
  });
});

describe('Transaction#setColumns()', () => {
  it('writes what the same sets would, with the same write set bytes', () => {
    const bulk = worldOf(6);
    const single = worldOf(6);
    const ids = [bulk.entities[4], bulk.entities[1], bulk.entities[2]];
    const xs = new Float32Array([1.5, 2.5, 3.5]);
    const hps = [7, -8, 9];
    const bulkCommit = bulk.db.transact((tx) => {
      tx.setColumns(ids, Position, { x: xs });
      tx.setColumns(ids, Health, { hp: hps });
    });
    const singleCommit = single.db.transact((tx) => {
      ids.forEach((e, i) => tx.set(e, Position, { x: xs[i] }));
      ids.forEach((e, i) => tx.set(e, Health, { hp: hps[i] }));
    });
    expect(dumpWorld(bulk.db.world)).toEqual(dumpWorld(single.db.world));
    expect(encodeWriteSet(bulkCommit.writeSet, bulk.db.schema)).toEqual(encodeWriteSet(singleCommit.writeSet, single.db.schema));
    const reader = bulk.db.transact((tx) => tx.get(ids[1], Position));
    expect(reader.value).toEqual({ x: 2.5, y: -1, z: 0.5 });
  });

  it('takes array fields as length values per entity, flattened, and every field kind', () => {
    const { db, entities } = worldOf(4);
    const ids = [entities[0], entities[2]];
    db.transact((tx) =>
      tx.setColumns(ids, AllTypes, {
        vec3: [1, 2, 3, 4, 5, 6],
        bytes: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
        bool: [true, false],
        string: ['a', 'b'],
        entity: [entities[3], null],
        i8: new Int8Array([-1, 1]),
        f64: [0.1, 0.2],
      }),
    );
    const first = db.transact((tx) => tx.get(entities[0], AllTypes)).value!;
    const second = db.transact((tx) => tx.get(entities[2], AllTypes)).value!;
    expect(first).toMatchObject({ vec3: [1, 2, 3], bytes: [1, 2, 3, 4], bool: true, string: 'a', entity: entities[3], i8: -1, f64: 0.1 });
    expect(second).toMatchObject({ vec3: [4, 5, 6], bytes: [5, 6, 7, 8], bool: false, string: 'b', entity: null, i8: 1, f64: 0.2 });
  });

  it('refuses every id that does not name a live entity, in a plain array or a typed one, with NO_SUCH_ENTITY', () => {
    const { db, entities } = worldOf(4);
    const dead = db.transact((tx) => {
      const e = tx.create();
      tx.add(e, Health, { hp: 1 });
      return e;
    }).value;
    db.transact((tx) => tx.destroy(dead));
    // The dead entity's slot, reused: the old id names the slot with an older generation.
    const reborn = db.transact((tx) => {
      const e = tx.create();
      tx.add(e, Health, { hp: 2 });
      return e;
    }).value;
    expect(reborn).not.toBe(dead);
    const before = dumpWorld(db.world);
    const bad: unknown[] = [dead, 1.5, -1, -0.5, NaN, Infinity, 2 ** 60, '0', 0n, Symbol('e'), null, { valueOf: () => 0 }];
    for (const id of bad) {
      const typed = typeof id === 'number';
      for (const ids of typed ? [[entities[0], id], new Float64Array([entities[0], id as number])] : [[entities[0], id]]) {
        db.transact((tx) => catching(() => tx.setColumns(ids as never, Health, { hp: [5, 6] })));
        expect(lastCaught?.code, `${String(id)} in ${ids.constructor.name}`).toBe('NO_SUCH_ENTITY');
        expect(dumpWorld(db.world)).toEqual(before);
      }
    }
    db.transact((tx) => tx.setColumns(new Float64Array([reborn, entities[3]]), Health, { hp: [7, 8] }));
    expect(db.transact((tx) => tx.get(reborn, Health)).value).toEqual({ hp: 7 });
  });

  it('reads ids from a DataView (whose indices can be getters) against the world as it is then', () => {
    const db = new InternalDb([Health]);
    const [e0, , e2] = db.transact((tx) =>
      [0, 1, 2].map((i) => {
        const e = tx.create();
        tx.add(e, Health, { hp: i });
        return e;
      }),
    ).value;
    let reused: Entity | undefined;
    db.transact((tx) => {
      const ids = new DataView(new ArrayBuffer(8)) as unknown as Record<string | number, unknown>;
      ids.length = 2;
      ids[0] = e0;
      Object.defineProperty(ids, 1, {
        get() {
          // Grows the world (new registry and Health arrays), then frees e2's slot for a new entity.
          for (let i = 0; i < 2000; i++) tx.add(tx.create(), Health, { hp: -1 });
          tx.destroy(e2);
          reused = tx.create();
          tx.add(reused, Health, { hp: 7 });
          return e2;
        },
      });
      catching(() => tx.setColumns(ids as never, Health, { hp: [100, 200] }));
      expect(lastCaught?.code).toBe('NO_SUCH_ENTITY');
    });
    expect(db.transact((tx) => tx.get(reused!, Health)).value).toEqual({ hp: 7 });
  });

  it('lets a later value for the same entity win, as sets in order would', () => {
    const { db, entities } = worldOf(2);
    db.transact((tx) => tx.setColumns([entities[1], entities[1]], Health, { hp: [1, 2] }));
    expect(db.transact((tx) => tx.get(entities[1], Health)).value).toEqual({ hp: 2 });
  });

  it('checks everything before writing anything: a bad value or entity anywhere leaves the world unchanged', () => {
    const { db, entities } = worldOf(4);
    const before = dumpWorld(db.world);
    const cases: [() => void, string][] = [
      [() => db.transact((tx) => catching(() => tx.setColumns(entities, Health, { hp: [1, 2, 3, 2 ** 31] }))), 'INVALID_VALUE'],
      [() => db.transact((tx) => catching(() => tx.setColumns(entities, Position, { x: [1, 2, 3, 1e39] }))), 'INVALID_VALUE'],
      [() => db.transact((tx) => catching(() => tx.setColumns(entities, Health, { hp: [1, 2, 3] }))), 'INVALID_VALUE'],
      [() => db.transact((tx) => catching(() => tx.setColumns(entities, AllTypes, { i8: [1, 2, 3, 4] }))), 'COMPONENT_MISSING'],
      [() => db.transact((tx) => catching(() => tx.setColumns([entities[0], 12345], Health, { hp: [1, 2] }))), 'NO_SUCH_ENTITY'],
      [() => db.transact((tx) => catching(() => tx.setColumns(entities, Health, { mp: [1, 2, 3, 4] } as never))), 'UNKNOWN_FIELD'],
      [() => db.transact((tx) => catching(() => tx.setColumns([entities[0]], AllTypes, { entity: [99999] }))), 'INVALID_VALUE'],
      [() => db.transact((tx) => catching(() => tx.setColumns([entities[0]], AllTypes, { vec3: [1, 2] }))), 'INVALID_VALUE'],
    ];
    for (const [run, code] of cases) {
      expect(run, code).not.toThrow();
      expect(lastCaught?.code, String(lastCaught?.message)).toBe(code);
      expect(dumpWorld(db.world)).toEqual(before);
    }
  });

  it('is rolled back with the transaction', () => {
    const { db, entities } = worldOf(5);
    const before = dumpWorld(db.world);
    expect(() =>
      db.transact((tx) => {
        tx.setColumns(entities, Position, { x: new Float32Array(5).fill(9), z: [1, 2, 3, 4, 5] });
        throw new Error('user abort');
      }),
    ).toThrow('user abort');
    expect(dumpWorld(db.world)).toEqual(before);
  });

  it('replays from the WAL to the same world after a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ecsdb-set-columns-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = await open({ dir, components: [...COMPONENTS], durability: 'buffered', snapshot: { everyCommits: 0, everyMs: 0, walBytesMax: 0 } });
    const entities = db.transact((tx) => Array.from({ length: 100 }, () => {
      const e = tx.create();
      tx.add(e, Position);
      return e;
    })).value;
    const xs = Float32Array.from(entities, (_, i) => i * 1.5);
    db.transact((tx) => tx.setColumns(entities, Position, { x: xs, y: xs }));
    const expected = entities.map((e) => db.get(e, Position));
    await db.close();
    const reopened = await open({ dir, components: [...COMPONENTS] });
    try {
      expect(entities.map((e) => reopened.get(e, Position))).toEqual(expected);
      expect(expected[3]).toEqual({ x: 4.5, y: 4.5, z: 0 });
    } finally {
      await reopened.close();
    }
  });

  it('rejects entities or columns that are not arrays', () => {
    const { db, entities } = worldOf(1);
    expectEcsdbError(() => db.transact((tx) => tx.setColumns(5 as never, Health, { hp: [1] })), 'INVALID_VALUE');
    expectEcsdbError(() => db.transact((tx) => tx.setColumns(entities, Health, null as never)), 'INVALID_VALUE');
    expectEcsdbError(() => db.transact((tx) => tx.setColumns(entities, Health, { hp: 3 as never })), 'INVALID_VALUE');
    // Array-likes whose length no array could have: refused before anything is sized by it.
    for (const length of [1.5, -1, NaN, Infinity, 2 ** 60]) {
      expectEcsdbError(() => db.transact((tx) => tx.setColumns({ length } as never, Health, {})), 'INVALID_VALUE');
    }
  });
});

describe('Transaction#setColumns() against the model (property)', () => {
  const FIELDS = ['i16', 'u8', 'f32', 'bool', 'string', 'vec3'] as const;
  type Field = (typeof FIELDS)[number];
  const goodValue: Record<Field, fc.Arbitrary<unknown>> = {
    i16: fc.integer({ min: -32768, max: 32767 }),
    u8: fc.integer({ min: 0, max: 255 }),
    f32: fc.float({ noNaN: true }),
    bool: fc.boolean(),
    string: fc.string({ maxLength: 3 }),
    vec3: fc.tuple(fc.float({ noNaN: true }), fc.float({ noNaN: true }), fc.float({ noNaN: true })),
  };
  const badValue: Record<Field, fc.Arbitrary<unknown>> = {
    i16: fc.constantFrom(40000, 0.5, '1'),
    u8: fc.constantFrom(-1, 256),
    f32: fc.constantFrom(1e39, null),
    bool: fc.constantFrom(0, 'true'),
    string: fc.constantFrom(5, '\uD83D'),
    vec3: fc.constant([1, 1e39, 2]),
  };
  const write = fc.record({
    picks: fc.array(fc.nat(9), { maxLength: 8 }),
    fields: fc.subarray([...FIELDS], { minLength: 1 }),
    bad: fc.option(fc.nat(), { freq: 4 }),
    seed: fc.integer(),
  });

  it('matches the model, the per-entity sets and WAL replay for random column writes', () => {
    fc.assert(
      fc.property(fc.array(write, { minLength: 1, maxLength: 6 }), fc.infiniteStream(fc.tuple(...FIELDS.map((f) => fc.tuple(goodValue[f], badValue[f])))), (writes, valueStream) => {
        const bulk = new InternalDb([AllTypes]);
        const single = new InternalDb([AllTypes]);
        const replica = new InternalDb([AllTypes]);
        let model = Model.empty([AllTypes]);
        const setup = (tx: Parameters<Parameters<InternalDb['transact']>[0]>[0]): Entity[] =>
          Array.from({ length: 10 }, (_, i) => {
            const e = tx.create();
            if (i !== 9) tx.add(e, AllTypes); // entity 9 lacks the component: COMPONENT_MISSING
            return e;
          });
        const setupCommit = bulk.transact(setup);
        const entities = setupCommit.value;
        single.transact(setup);
        // The replica only ever sees write sets, as recovery does.
        applyEncodedWriteSet(replica.world, new ByteReader(encodeWriteSet(setupCommit.writeSet, bulk.schema)), replica.schema);
        for (let i = 0; i < 10; i++) model.create();
        for (let i = 0; i < 9; i++) model.add(entities[i], AllTypes, {});
        const values = valueStream[Symbol.iterator]();
        for (const { picks, fields, bad } of writes) {
          const ids = picks.map((p) => entities[p]);
          const columns: Record<string, unknown[]> = {};
          const rows = picks.map(() => values.next().value as [unknown, unknown][]);
          for (const field of fields) {
            const f = FIELDS.indexOf(field);
            columns[field] = rows.flatMap((row, r) => {
              const value = bad !== null && bad % Math.max(1, rows.length) === r && field === fields[0] ? row[f][1] : row[f][0];
              return field === 'vec3' ? (value as unknown[]) : [value];
            });
          }
          const perEntity = ids.map((_, r) =>
            Object.fromEntries(fields.map((field) => [field, field === 'vec3' ? columns[field].slice(r * 3, r * 3 + 3) : columns[field][r]])),
          );
          const next = model.clone();
          let modelFailed = false;
          try {
            ids.forEach((e, r) => next.set(e, AllTypes, perEntity[r]));
          } catch {
            modelFailed = true;
          }
          let bulkFailed = false;
          let commit;
          try {
            commit = bulk.transact((tx) => tx.setColumns(ids, AllTypes, columns as never));
          } catch (error) {
            expect(error).toBeInstanceOf(EcsdbError);
            bulkFailed = true;
          }
          expect(bulkFailed).toBe(modelFailed);
          if (bulkFailed || commit === undefined) continue;
          model = next;
          const singleCommit = single.transact((tx) => ids.forEach((e, r) => tx.set(e, AllTypes, perEntity[r] as never)));
          const bytes = encodeWriteSet(commit.writeSet, bulk.schema);
          expect(bytes).toEqual(encodeWriteSet(singleCommit.writeSet, single.schema));
          applyEncodedWriteSet(replica.world, new ByteReader(bytes), replica.schema);
        }
        expect(dumpWorld(bulk.world)).toEqual(model.dump());
        expect(dumpWorld(single.world)).toEqual(model.dump());
        expect(dumpWorld(replica.world)).toEqual(model.dump());
      }),
      { numRuns: 200 },
    );
  });
});

describe('Transaction#setColumns() over runs of consecutive entities (block copies)', () => {
  // Runs of 16 or more consecutive slots are saved to the journal and written to the table
  // with one block copy per field; shorter runs value by value. These writes mix both, repeat
  // entities across runs (the first touch keeps the before-image, the last value wins) and
  // give numeric columns as typed arrays of the field's own kind, so the block paths are taken.
  const ENTITIES = 120;
  const NUMERIC = { i8: Int8Array, u8: Uint8Array, i16: Int16Array, u16: Uint16Array, i32: Int32Array, u32: Uint32Array, f32: Float32Array, f64: Float64Array } as const;
  const FIELDS = [...(Object.keys(NUMERIC) as (keyof typeof NUMERIC)[]), 'bool', 'string', 'entity', 'vec3', 'bytes'] as const;
  const call = fc.record({
    segments: fc.array(fc.record({ start: fc.nat(ENTITIES - 1), length: fc.integer({ min: 1, max: 40 }) }), { minLength: 1, maxLength: 4 }),
    fields: fc.subarray([...FIELDS], { minLength: 1 }),
    typed: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1_000_000 }),
  });

  /** A column of `count` values for `field`, from `seed` (every value valid for the field). */
  function columnOf(field: (typeof FIELDS)[number], count: number, seed: number, typed: boolean, entities: Entity[]): ArrayLike<unknown> {
    const value = (i: number): number => ((seed + i * 7919) % 200) - 100;
    switch (field) {
      case 'bool':
        return Array.from({ length: count }, (_, i) => value(i) > 0);
      case 'string':
        return Array.from({ length: count }, (_, i) => `v${value(i)}`);
      case 'entity':
        return Array.from({ length: count }, (_, i) => (value(i) > 50 ? null : entities[Math.abs(value(i)) % entities.length]));
      case 'vec3':
        return typed ? Float32Array.from({ length: count * 3 }, (_, i) => value(i) / 4) : Array.from({ length: count * 3 }, (_, i) => value(i) / 4);
      case 'bytes':
        return typed ? Uint8Array.from({ length: count * 4 }, (_, i) => Math.abs(value(i))) : Array.from({ length: count * 4 }, (_, i) => Math.abs(value(i)));
      default: {
        const numbers = Array.from({ length: count }, (_, i) => (field.startsWith('u') ? Math.abs(value(i)) : field.startsWith('f') ? value(i) / 8 : value(i)));
        return typed ? NUMERIC[field].from(numbers) : numbers;
      }
    }
  }

  it('matches the per-entity sets (world and write set bytes) and rolls back exactly', () => {
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 3 }), fc.boolean(), (calls, abort) => {
        const setup = (tx: Parameters<Parameters<InternalDb['transact']>[0]>[0]): Entity[] =>
          Array.from({ length: ENTITIES }, (_, i) => {
            const e = tx.create();
            tx.add(e, AllTypes, { i32: i, string: `s${i}`, vec3: [i, -i, 0.5] });
            tx.add(e, Position, { x: i });
            return e;
          });
        const bulk = new InternalDb([AllTypes, Position]);
        const single = new InternalDb([AllTypes, Position]);
        const entities = bulk.transact(setup).value;
        single.transact(setup);
        const before = dumpWorld(bulk.world);
        const writes = calls.map(({ segments, fields, typed, seed }) => {
          const ids = segments.flatMap(({ start, length }) => entities.slice(start, start + length));
          const columns = Object.fromEntries(fields.map((field) => [field, columnOf(field, ids.length, seed, typed, entities)]));
          const xs = Float32Array.from(ids, (_, i) => seed + i);
          return { ids, fields, columns, xs };
        });
        const transact = (db: InternalDb, write: (tx: Parameters<Parameters<InternalDb['transact']>[0]>[0]) => void) =>
          db.transact((tx) => {
            write(tx);
            if (abort) throw new Error('user abort');
          });
        const bulkRun = () =>
          transact(bulk, (tx) => {
            for (const { ids, columns, xs } of writes) {
              tx.setColumns(ids, AllTypes, columns as never);
              tx.setColumns(ids, Position, { x: xs });
            }
          });
        const singleRun = () =>
          transact(single, (tx) => {
            for (const { ids, fields, columns, xs } of writes) {
              ids.forEach((e, r) => {
                const value = Object.fromEntries(
                  fields.map((field) => {
                    const column = columns[field] as ArrayLike<unknown>;
                    const stride = field === 'vec3' ? 3 : field === 'bytes' ? 4 : 1;
                    return [field, stride === 1 ? column[r] : Array.from({ length: stride }, (_, k) => column[r * stride + k])];
                  }),
                );
                tx.set(e, AllTypes, value as never);
              });
              ids.forEach((e, r) => tx.set(e, Position, { x: xs[r] }));
            }
          });
        if (abort) {
          expect(bulkRun).toThrow('user abort');
          expect(dumpWorld(bulk.world)).toEqual(before);
          return;
        }
        const bulkCommit = bulkRun();
        const singleCommit = singleRun();
        expect(dumpWorld(bulk.world)).toEqual(dumpWorld(single.world));
        const bytes = encodeWriteSet(bulkCommit.writeSet, bulk.schema);
        expect(bytes).toEqual(encodeWriteSet(singleCommit.writeSet, single.schema));
        expect(bulkCommit.liveBytes).toEqual(bytes);
      }),
      { numRuns: 150 },
    );
  });
});

let lastCaught: EcsdbError | undefined;
/** Runs a write inside a transaction and keeps its error, so the transaction itself commits. */
function catching(write: () => void): void {
  lastCaught = undefined;
  try {
    write();
  } catch (error) {
    if (!(error instanceof EcsdbError)) throw error;
    lastCaught = error;
  }
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});
