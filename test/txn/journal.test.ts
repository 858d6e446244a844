import { describe, expect, it } from 'vitest';
import { isEmptyWriteSet } from '../../src/txn/write-set.js';
import type { Transaction } from '../../src/txn/transaction.js';
import { entityIdOf } from '../../src/world/entity-id.js';
import { ALL_COMPONENTS, AllTypes, Frozen, Health, Name, Position, Target } from '../helpers/fixtures.js';
import { InternalDb } from '../helpers/internal-tx.js';
import { dumpWorld, expectConsistentDump } from '../helpers/world-dump.js';

class Abort extends Error {}

/** A world with e0 (Position, Health, Name), e1 (Target → e0, Frozen), e2 (no components). */
function populated(): { db: InternalDb; ids: number[] } {
  const db = new InternalDb(ALL_COMPONENTS);
  const ids = db.transact((tx) => {
    const created = [tx.create(), tx.create(), tx.create()];
    tx.add(created[0], Position, { x: 1, y: 2, z: 3 });
    tx.add(created[0], Health, { hp: 50 });
    tx.add(created[0], Name, { value: 'zero' });
    tx.add(created[1], Target, { entity: created[0] });
    tx.add(created[1], Frozen);
    return created;
  }).value;
  return { db, ids };
}

describe('Journal rollback', () => {
  it('restores the world exactly after every kind of change', () => {
    const { db, ids } = populated();
    const before = dumpWorld(db.world);
    expect(() =>
      db.transact((tx) => {
        tx.set(ids[0], Position, { x: 9 });
        tx.remove(ids[0], Health);
        tx.destroy(ids[1]);
        const a = tx.create();
        const b = tx.create();
        const c = tx.create();
        tx.add(a, AllTypes, { string: 'gone', entity: ids[0] });
        tx.add(ids[2], Health, { hp: 1 });
        tx.destroy(b);
        tx.add(c, Frozen);
        tx.add(ids[0], Health, { hp: 2 });
        throw new Abort();
      }),
    ).toThrow(Abort);
    expect(dumpWorld(db.world)).toEqual(before);
    expectConsistentDump(dumpWorld(db.world));
  });

  it('restores allocation: the next id is the one it would have been without the failed transaction', () => {
    const { db, ids } = populated();
    const control = populated().db;
    expect(() =>
      db.transact((tx) => {
        tx.destroy(ids[2]);
        tx.create();
        tx.create();
        throw new Abort();
      }),
    ).toThrow(Abort);
    const createTwo = (tx: Transaction): number[] => [tx.create(), tx.create()];
    expect(db.transact(createTwo).value).toEqual(control.transact(createTwo).value);
  });

  it('restores a slot that died and was reused in the failed transaction', () => {
    const { db, ids } = populated();
    const before = dumpWorld(db.world);
    expect(() =>
      db.transact((tx) => {
        tx.destroy(ids[0]);
        const reused = tx.create();
        expect(reused).toBe(entityIdOf(0, 1));
        tx.add(reused, Position, { x: -1 });
        throw new Abort();
      }),
    ).toThrow(Abort);
    expect(dumpWorld(db.world)).toEqual(before);
  });

  it('keeps working across the epoch counter wrapping around', () => {
    const { db, ids } = populated();
    // Jump to just below the wrap; the stamps of the setup transaction (epoch 1) would match again
    // after it unless the journal clears them.
    expect(db.journal).toHaveProperty('epoch', 1);
    (db.journal as unknown as { epoch: number }).epoch = 0xffff_fffe - 1;
    for (let i = 0; i < 4; i++) {
      const { writeSet } = db.transact((tx) => tx.set(ids[0], Health, { hp: i }));
      expect(writeSet.components).toEqual([{ componentIndex: 1, removedSlots: [], upserts: [{ fieldMask: 1, slots: [0], columns: [[i]] }] }]);
    }
    const { writeSet } = db.transact((tx) => tx.set(ids[0], Position, { y: 7 }));
    expect(writeSet.components).toEqual([{ componentIndex: 0, removedSlots: [], upserts: [{ fieldMask: 2, slots: [0], columns: [[7]] }] }]);
  });
});

describe('Journal write sets', () => {
  it('record only the slot\'s next generation for an entity created and destroyed in one transaction', () => {
    const { db } = populated();
    const { writeSet } = db.transact((tx) => {
      const e = tx.create();
      tx.add(e, Position, { x: 1 });
      tx.add(e, Name, { value: 'brief' });
      tx.destroy(e);
    });
    expect(writeSet).toEqual({ slots: { slots: [3], generations: [1], alive: [0] }, components: [] });
  });

  it('record a destroyed entity as its slot state alone, without removals', () => {
    const { db, ids } = populated();
    const { writeSet } = db.transact((tx) => tx.destroy(ids[0]));
    expect(writeSet).toEqual({ slots: { slots: [0], generations: [1], alive: [0] }, components: [] });
  });

  it('record a set as a partial upsert of only the written fields', () => {
    const { db, ids } = populated();
    const { writeSet } = db.transact((tx) => {
      tx.set(ids[0], Position, { z: 6 });
      tx.set(ids[0], Position, { x: 4 });
    });
    expect(writeSet.slots.slots).toEqual([]);
    expect(writeSet.components).toEqual([{ componentIndex: 0, removedSlots: [], upserts: [{ fieldMask: 0b101, slots: [0], columns: [[4], [6]] }] }]);
  });

  it('record a set of every field as a full upsert', () => {
    const { db, ids } = populated();
    const { writeSet } = db.transact((tx) => tx.set(ids[0], Position, { x: 7, y: 8, z: 9 }));
    expect(writeSet.components).toEqual([{ componentIndex: 0, removedSlots: [], upserts: [{ fieldMask: 0b111, slots: [0], columns: [[7], [8], [9]] }] }]);
  });

  it('record the final values of a component removed and added again, without a removal', () => {
    const { db, ids } = populated();
    const { writeSet } = db.transact((tx) => {
      tx.remove(ids[0], Health);
      tx.add(ids[0], Health, { hp: 3 });
    });
    expect(writeSet.components).toEqual([{ componentIndex: 1, removedSlots: [], upserts: [{ fieldMask: 1, slots: [0], columns: [[3]] }] }]);
  });

  it('record nothing for a component added and removed again', () => {
    const { db, ids } = populated();
    const { writeSet } = db.transact((tx) => {
      tx.add(ids[2], Health, { hp: 3 });
      tx.remove(ids[2], Health);
    });
    expect(writeSet.components).toEqual([]);
    expect(isEmptyWriteSet(writeSet)).toBe(true);
  });

  it('record full after-images for an entity created in the transaction, defaults included', () => {
    const { db, ids } = populated();
    const { value: e, writeSet } = db.transact((tx) => {
      const created = tx.create();
      tx.add(created, Target, { entity: ids[1] });
      tx.add(created, Name);
      return created;
    });
    expect(e).toBe(3);
    expect(writeSet).toEqual({
      slots: { slots: [3], generations: [0], alive: [1] },
      components: [
        { componentIndex: 2, removedSlots: [], upserts: [{ fieldMask: 1, slots: [3], columns: [['']] }] },
        { componentIndex: 3, removedSlots: [], upserts: [{ fieldMask: 1, slots: [3], columns: [[ids[1]]] }] },
      ],
    });
  });

  it('is empty for a transaction that only reads', () => {
    const { db, ids } = populated();
    const { writeSet } = db.transact((tx) => {
      tx.get(ids[0], Position);
      tx.query(Position);
    });
    expect(isEmptyWriteSet(writeSet)).toBe(true);
    expect(db.journal.isEmpty).toBe(true);
  });

  it('groups the rows of one component into one upsert per field mask', () => {
    const { db } = populated();
    const { writeSet } = db.transact((tx) => {
      for (let i = 0; i < 3; i++) tx.add(tx.create(), Health, { hp: i * 10 });
    });
    expect(writeSet.components).toEqual([{ componentIndex: 1, removedSlots: [], upserts: [{ fieldMask: 1, slots: [3, 4, 5], columns: [[0, 10, 20]] }] }]);
  });
});
