import { describe, expect, it } from 'vitest';
import { applyWriteSet } from '../../src/txn/apply.js';
import { decodeWriteSet, encodeWriteSet, type WriteSet } from '../../src/txn/write-set.js';
import type { Transaction } from '../../src/txn/transaction.js';
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
