import { describe, expect, it } from 'vitest';
import { ByteReader } from '../../src/encoding/bytes.js';
import { applyEncodedWriteSet, applyWriteSet } from '../../src/txn/apply.js';
import { decodeWriteSet, encodeWriteSet, type WriteSet } from '../../src/txn/write-set.js';
import type { Transaction } from '../../src/txn/transaction.js';
import { readField } from '../../src/world/table.js';
import { World } from '../../src/world/world.js';
import { ALL_COMPONENTS, AllTypes, Frozen, Health, Name, Position, Target } from '../helpers/fixtures.js';
import { InternalDb } from '../helpers/internal-tx.js';
import { dumpWorld, expectConsistentDump } from '../helpers/world-dump.js';

/** Runs each callback as one commit and returns the write sets, as the WAL would log them (encoded). */
function commitAll(db: InternalDb, callbacks: ((tx: Transaction) => void)[]): Uint8Array[] {
  return callbacks.map((fn) => encodeWriteSet(db.transact(fn).writeSet, db.schema));
}

function replay(records: readonly Uint8Array[], into = new World(ALL_COMPONENTS)): World {
  const schema = into.tables.map((table) => table.fields);
  for (const record of records) applyWriteSet(into, decodeWriteSet(record, schema));
  return into;
}

/** A history touching every kind of change: births, deaths, slot reuse, adds, sets, removes. */
function history(): ((tx: Transaction) => void)[] {
  const ids: number[] = [];
  return [
    (tx) => {
      for (let i = 0; i < 4; i++) ids.push(tx.create());
      tx.add(ids[0], Position, { x: 1, y: 2, z: 3 });
      tx.add(ids[0], Health, { hp: 100 });
      tx.add(ids[1], Name, { value: 'one' });
      tx.add(ids[2], Target, { entity: ids[0] });
      tx.add(ids[3], Frozen);
      tx.add(ids[3], AllTypes, { i8: -5, string: 'all', entity: ids[1], vec3: [1, 2, 3], bytes: [9, 8, 7, 6], bool: true });
    },
    (tx) => {
      tx.set(ids[0], Position, { y: -2 });
      tx.remove(ids[0], Health);
      tx.destroy(ids[1]);
      ids[1] = tx.create(); // reuses slot 1
      tx.add(ids[1], Health, { hp: 7 });
    },
    (tx) => {
      tx.set(ids[3], AllTypes, { u32: 4_000_000_000, f64: Math.E });
      tx.add(ids[0], Health);
      tx.destroy(ids[2]);
      tx.remove(ids[3], Frozen);
    },
    (tx) => {
      const extra = tx.create(); // reuses slot 2
      tx.add(extra, Target, { entity: ids[3] });
      tx.destroy(extra);
    },
  ];
}

describe('applyWriteSet()', () => {
  it('reproduces every commit exactly in a second world built the same way', () => {
    const db = new InternalDb(ALL_COMPONENTS);
    const copy = new World(ALL_COMPONENTS);
    for (const fn of history()) {
      const record = encodeWriteSet(db.transact(fn).writeSet, db.schema);
      replay([record], copy);
      expect(dumpWorld(copy)).toEqual(dumpWorld(db.world));
    }
    expectConsistentDump(dumpWorld(copy));
  });

  it('is harmless when a write set is applied twice', () => {
    const db = new InternalDb(ALL_COMPONENTS);
    const records = commitAll(db, history());
    const copy = new World(ALL_COMPONENTS);
    for (const record of records) replay([record, record], copy);
    expect(dumpWorld(copy)).toEqual(dumpWorld(db.world));
  });

  it('changes nothing for an empty write set', () => {
    const db = new InternalDb(ALL_COMPONENTS);
    commitAll(db, history());
    const before = dumpWorld(db.world);
    const empty: WriteSet = { slots: { slots: [], generations: [], alive: [] }, components: [] };
    applyWriteSet(db.world, empty);
    expect(dumpWorld(db.world)).toEqual(before);
  });

  it('leaves the replayed world allocating the same ids as the original', () => {
    const db = new InternalDb(ALL_COMPONENTS);
    const copy = new InternalDb(ALL_COMPONENTS);
    replay(commitAll(db, history()), copy.world);
    const createThree = (tx: Transaction): number[] => [tx.create(), tx.create(), tx.create()];
    expect(copy.transact(createThree).value).toEqual(db.transact(createThree).value);
  });

  it('converges when older write sets are replayed again over a newer world (fuzzy snapshot)', () => {
    const db = new InternalDb(ALL_COMPONENTS);
    const records = commitAll(db, history());
    const final = dumpWorld(db.world);
    for (let from = 0; from < records.length; from++) {
      const world = replay(records);
      replay(records.slice(from), world);
      expect(dumpWorld(world), `replaying again from record ${from}`).toEqual(final);
    }
  });

  it('drops components a later entity in the slot had, when replaying the record of a rebirth', () => {
    const db = new InternalDb(ALL_COMPONENTS);
    let first = 0;
    let second = 0;
    const records = commitAll(db, [
      (tx) => {
        first = tx.create();
        tx.add(first, Position, { x: 1 });
      },
      (tx) => tx.set(first, Position, { x: 2 }),
      (tx) => {
        tx.destroy(first);
        second = tx.create(); // same slot, next generation, no Position
        tx.add(second, Name, { value: 'second' });
      },
    ]);
    const world = replay(records);
    replay(records.slice(1), world);
    expect(dumpWorld(world)).toEqual(dumpWorld(db.world));
    expect(dumpWorld(world).entities).toEqual([{ id: second, slot: 0, generation: 1, components: { Name: { value: 'second' } } }]);
  });

  it('skips an upsert on an entity that died later, when replaying over a newer world', () => {
    const db = new InternalDb(ALL_COMPONENTS);
    let e = 0;
    const records = commitAll(db, [
      (tx) => {
        e = tx.create();
        tx.create();
        tx.add(e, Position);
      },
      (tx) => tx.set(e, Position, { z: 5 }),
      (tx) => tx.destroy(e),
    ]);
    const world = replay(records);
    replay(records.slice(1), world);
    expect(dumpWorld(world)).toEqual(dumpWorld(db.world));
  });

  it('fills slots below a replayed slot as free, used slots', () => {
    const db = new InternalDb(ALL_COMPONENTS);
    const ids = db.transact((tx) => Array.from({ length: 5 }, () => tx.create())).value;
    const records = commitAll(db, [(tx) => [0, 1, 2, 3].forEach((i) => tx.destroy(ids[i]))]);
    const { writeSet } = db.transact((tx) => tx.add(ids[4], Frozen));
    records.push(encodeWriteSet(writeSet, db.schema));
    // A world that sees only the later records: slot 4 lives, though its birth is not among them.
    const world = new World(ALL_COMPONENTS);
    world.setSlotState(4, 0, true);
    replay(records, world);
    expect(dumpWorld(world)).toEqual(dumpWorld(db.world));
  });
});

/** Values at the edges of every fixed-width kind, varied by `i` so that no two rows are alike. */
function edgeValues(i: number): Record<string, unknown> {
  const pick = <T>(values: readonly T[]): T => values[i % values.length];
  return {
    i8: pick([-128, 127, -1, i % 100]),
    u8: pick([255, 0, 128, i % 200]),
    i16: pick([-32768, 32767, -i]),
    u16: pick([65535, 0, i * 7]),
    i32: pick([-(2 ** 31), 2 ** 31 - 1, -i * 1000]),
    u32: pick([2 ** 32 - 1, 0, i * 100_000]),
    f32: pick([-0, Number.NaN, 3.4e38, 1e-45, -Infinity, i / 8]),
    f64: pick([Math.E, -0, Number.MAX_VALUE, Number.NaN, Infinity, -i / 3]),
    bool: i % 3 === 0,
    string: `row ${i}`,
    entity: null,
    vec3: [i / 4, pick([-0, Number.NaN, 1.5]), -i],
    bytes: [pick([0, 255]), i % 256, 128, 1],
  };
}

describe('applyEncodedWriteSet()', () => {
  /** Each record applied from bytes, and decoded then applied value by value: both must build the original. */
  function expectBothPathsReproduce(db: InternalDb, records: readonly Uint8Array[]): void {
    const fromObjects = new World(ALL_COMPONENTS);
    const fromBytes = new World(ALL_COMPONENTS);
    const schema = fromBytes.tables.map((table) => table.fields);
    for (const record of records) {
      applyWriteSet(fromObjects, decodeWriteSet(record, schema));
      applyEncodedWriteSet(fromBytes, new ByteReader(record), schema);
    }
    expect(dumpWorld(fromBytes)).toEqual(dumpWorld(fromObjects));
    expect(dumpWorld(fromBytes)).toEqual(dumpWorld(db.world));
  }

  it('copies fixed-width columns as bytes into the world the value-by-value path builds: every field type, listed and as runs', () => {
    const db = new InternalDb(ALL_COMPONENTS);
    const ids: number[] = [];
    const records = commitAll(db, [
      // 40 consecutive entities: one run.
      (tx) => {
        for (let i = 0; i < 40; i++) ids.push(tx.create());
        ids.forEach((id, i) => tx.add(id, AllTypes, edgeValues(i)));
        ids.forEach((id, i) => tx.add(id, Position, { x: i, y: -i, z: i / 3 }));
      },
      // Scattered entities: listed slots; a partial field mask.
      (tx) => [3, 17, 29].forEach((i) => tx.set(ids[i], AllTypes, { u16: 1000 + i, vec3: [i, i, i], bool: true })),
      // Two runs with a scattered entity between them, every field.
      (tx) => {
        for (const i of [...Array.from({ length: 20 }, (_, i) => i), 22, ...Array.from({ length: 15 }, (_, i) => 25 + i)]) {
          tx.set(ids[i], AllTypes, edgeValues(i + 1));
        }
      },
      // Arrays and bools alone, on every entity.
      (tx) => ids.forEach((id, i) => tx.set(id, AllTypes, { bytes: [i, 0, 0, 255], bool: i % 2 === 0 })),
    ]);
    expectBothPathsReproduce(db, records);
  });

  // 12 rows are copied row by row, 40 by runs of consecutive live slots.
  it.each([12, 40])('skips the dead slots among %i rows when replaying over a newer world, and writes the live ones around them', (count) => {
    const db = new InternalDb(ALL_COMPONENTS);
    const ids: number[] = [];
    const dead = [0, 5, 6, count - 1];
    const records = commitAll(db, [
      (tx) => {
        for (let i = 0; i < count; i++) ids.push(tx.create());
        ids.forEach((id, i) => tx.add(id, AllTypes, edgeValues(i)));
      },
      (tx) => ids.forEach((id, i) => tx.set(id, AllTypes, edgeValues(i + 5))),
      (tx) => ids.forEach((id, i) => tx.set(id, AllTypes, edgeValues(i + 9))),
      (tx) => dead.forEach((i) => tx.destroy(ids[i])),
    ]);
    const world = new World(ALL_COMPONENTS);
    const schema = world.tables.map((table) => table.fields);
    for (const record of records) applyEncodedWriteSet(world, new ByteReader(record), schema);
    const columnsAt = (into: World, slots: number[]): unknown[] => {
      const table = into.tables[5];
      return slots.map((slot) => table.fields.map((field) => readField(table, field.index, slot)));
    };
    const live = ids.map((_, i) => i).filter((i) => !dead.includes(i));
    const deadBefore = columnsAt(world, dead);
    const liveBefore = columnsAt(world, live);
    // The upsert over all the entities again, as a fuzzy snapshot's catch-up may apply it.
    applyEncodedWriteSet(world, new ByteReader(records[1]), schema);
    expect(columnsAt(world, dead)).toEqual(deadBefore);
    expect(columnsAt(world, live)).not.toEqual(liveBefore);
    const afterSecond = new World(ALL_COMPONENTS);
    for (const record of records.slice(0, 2)) applyEncodedWriteSet(afterSecond, new ByteReader(record), schema);
    expect(columnsAt(world, live)).toEqual(columnsAt(afterSecond, live));
  });

  it('skips an upsert of slots the world has never held, however many', () => {
    const db = new InternalDb(ALL_COMPONENTS);
    const ids = db.transact((tx) => Array.from({ length: 5100 }, () => tx.create())).value;
    // Slots 5000..5099, one run, beyond the 1024 slots a fresh world's columns hold.
    const [record] = commitAll(db, [(tx) => ids.slice(5000).forEach((id, i) => tx.add(id, Position, { x: i }))]);
    const world = new World(ALL_COMPONENTS);
    applyEncodedWriteSet(world, new ByteReader(record), world.tables.map((table) => table.fields));
    expect(dumpWorld(world).entities).toEqual([]);
  });

  it('refuses a bool byte other than 0 or 1 before writing it', () => {
    const world = new World(ALL_COMPONENTS);
    world.setSlotState(0, 0, true);
    const schema = world.tables.map((table) => table.fields);
    // AllTypes (component 5), mask bool (field 8), one listed row at slot 0, value 2.
    const record = Uint8Array.from([0x00, 0x01, 0x05, 0x00, 0x01, 0x80, 0x02, 0x02, 0x00, 0x02]);
    expect(() => applyEncodedWriteSet(world, new ByteReader(record), schema)).toThrow('bool value 2');
    const table = world.tables[5];
    expect(table.columnList[8][0]).toBe(0);
  });
});
