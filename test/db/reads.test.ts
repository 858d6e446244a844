/** Database reads: get, has, exists, query, and the zero-copy path (columns, queryRows, entityAt). */
import { describe, expect, it } from 'vitest';
import { open, type Database } from '../../src/index.js';
import { entityIdOf } from '../../src/world/entity-id.js';
import { AllTypes, Frozen, Health, Name, Position, SPEC_COMPONENTS, Target } from '../helpers/fixtures.js';
import { expectEcsdbError } from '../helpers/errors.js';

async function openDb(): Promise<Database> {
  return open({ components: [...SPEC_COMPONENTS, AllTypes] });
}

describe('Database reads', () => {
  it('get returns a fresh copy of the value, or undefined without the component', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Position, { x: 1 });
      return id;
    }).value;
    const value = db.get(e, Position)!;
    value.x = 99;
    expect(db.get(e, Position)).toEqual({ x: 1, y: 0, z: 0 });
    expect(db.get(e, Health)).toBeUndefined();
  });

  it('get of a tag component returns {} when present', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Frozen);
      return id;
    }).value;
    expect(db.get(e, Frozen)).toEqual({});
    expect(db.has(e, Frozen)).toBe(true);
  });

  it('exists is false for ids that were never created, destroyed, or are not ids', async () => {
    const db = await openDb();
    const e = db.transact((tx) => tx.create()).value;
    const destroyed = db.transact((tx) => {
      const id = tx.create();
      tx.destroy(id);
      return id;
    }).value;
    expect(db.exists(e)).toBe(true);
    expect(db.exists(destroyed)).toBe(false);
    expect(db.exists(1000)).toBe(false);
    expect(db.exists(entityIdOf(e, 1))).toBe(false);
    for (const notAnId of [-1, 0.5, Number.NaN, '0', null, undefined]) expect(db.exists(notAnId as never)).toBe(false);
  });

  it('query returns the entities having every listed component, in ascending slot order', async () => {
    const db = await openDb();
    const ids = db.transact((tx) => {
      const created = Array.from({ length: 6 }, () => tx.create());
      for (const id of [created[4], created[1], created[3]]) tx.add(id, Position);
      for (const id of [created[3], created[5], created[1]]) tx.add(id, Health);
      return created;
    }).value;
    expect(db.query(Position)).toEqual([ids[1], ids[3], ids[4]]);
    expect(db.query(Position, Health)).toEqual([ids[1], ids[3]]);
    expect(db.query(Health, Position)).toEqual([ids[1], ids[3]]);
    expect(db.query(Name)).toEqual([]);
    expect(db.query()).toEqual(ids);
  });

  it('query returns current ids after a slot is reused, ordered by slot', async () => {
    const db = await openDb();
    const ids = db.transact((tx) => Array.from({ length: 3 }, () => tx.create())).value;
    const reused = db.transact((tx) => {
      tx.destroy(ids[0]);
      const id = tx.create();
      tx.add(id, Frozen);
      tx.add(ids[2], Frozen);
      return id;
    }).value;
    expect(reused).toBe(entityIdOf(0, 1));
    expect(db.query(Frozen)).toEqual([reused, ids[2]]);
    expect(db.query()).toEqual([reused, ids[1], ids[2]]);
  });

  it('grows past the initial 1024 rows and keeps every value', async () => {
    const db = await openDb();
    const count = 2500;
    const ids = db.transact((tx) =>
      Array.from({ length: count }, (_, i) => {
        const id = tx.create();
        tx.add(id, Position, { x: i, y: -i, z: i / 2 });
        tx.add(id, Name, { value: `n${i}` });
        return id;
      }),
    ).value;
    expect(db.entityCount).toBe(count);
    expect(ids[count - 1]).toBe(count - 1);
    for (let i = 0; i < count; i++) {
      expect(db.get(ids[i], Position)).toEqual({ x: i, y: -i, z: i / 2 });
      expect(db.get(ids[i], Name)).toEqual({ value: `n${i}` });
    }
    expect(db.query(Position)).toHaveLength(count);
    expect(db.columns(Position).x.length).toBeGreaterThanOrEqual(count);
  });

  it('grows across many commits, not only inside one transaction', async () => {
    const db = await openDb();
    const ids: number[] = [];
    for (let i = 0; i < 1100; i++) {
      ids.push(
        db.transact((tx) => {
          const id = tx.create();
          tx.add(id, Health, { hp: i });
          return id;
        }).value,
      );
    }
    expect(ids.map((id) => db.get(id, Health)!.hp)).toEqual(ids.map((_, i) => i));
  });
});

describe('Zero-copy reads', () => {
  it('columns(C).field[row] reads the value of the entity in that row', async () => {
    const db = await openDb();
    const ids = db.transact((tx) =>
      [1, 2, 3].map((n) => {
        const id = tx.create();
        tx.add(id, Position, { x: n, y: n * 10, z: n * 100 });
        return id;
      }),
    ).value;
    const rows = db.queryRows(Position);
    const { x, y, z } = db.columns(Position);
    const seen = [...rows].map((row) => ({ id: db.entityAt(row), x: x[row], y: y[row], z: z[row] }));
    expect(seen.sort((a, b) => a.id - b.id)).toEqual([
      { id: ids[0], x: 1, y: 10, z: 100 },
      { id: ids[1], x: 2, y: 20, z: 200 },
      { id: ids[2], x: 3, y: 30, z: 300 },
    ]);
  });

  it('lays out bools as 0/1, entity references as ids with -1 for null, strings and arrays inline', async () => {
    const db = await openDb();
    const [a, b] = db.transact((tx) => {
      const ids = [tx.create(), tx.create()];
      tx.add(ids[0], AllTypes, { bool: true, entity: ids[1], string: 's', vec3: [4, 5, 6] });
      tx.add(ids[1], AllTypes);
      return ids;
    }).value;
    const columns = db.columns(AllTypes);
    const rowA = a;
    const rowB = b;
    expect([columns.bool[rowA], columns.bool[rowB]]).toEqual([1, 0]);
    expect([columns.entity[rowA], columns.entity[rowB]]).toEqual([b, -1]);
    expect([columns.string[rowA], columns.string[rowB]]).toEqual(['s', '']);
    expect(Array.from((columns.vec3 as Float32Array).subarray(rowA * 3, rowA * 3 + 3))).toEqual([4, 5, 6]);
  });

  it('queryRows returns the rows of entities having every listed component', async () => {
    const db = await openDb();
    const ids = db.transact((tx) => {
      const created = Array.from({ length: 4 }, () => tx.create());
      tx.add(created[0], Position);
      tx.add(created[2], Position);
      tx.add(created[2], Target);
      tx.add(created[3], Target);
      return created;
    }).value;
    expect([...db.queryRows(Position)].sort()).toEqual([0, 2]);
    expect([...db.queryRows(Position, Target)]).toEqual([2]);
    expect(db.entityAt(2)).toBe(ids[2]);
  });

  it('entityAt returns the current id of a reused row and rejects rows without a live entity', async () => {
    const db = await openDb();
    const e = db.transact((tx) => tx.create()).value;
    const reused = db.transact((tx) => {
      tx.destroy(e);
      return tx.create();
    }).value;
    expect(db.entityAt(0)).toBe(reused);
    for (const row of [1, -1, 0.5, 2 ** 30]) expectEcsdbError(() => db.entityAt(row), 'NO_SUCH_ENTITY');
  });

  it('queryRows needs at least one component', async () => {
    const db = await openDb();
    expectEcsdbError(() => db.queryRows(), 'INVALID_ARGUMENT');
  });

  it('columns must be fetched again after growth: the grown column holds every value', async () => {
    const db = await openDb();
    db.transact((tx) => tx.add(tx.create(), Health, { hp: 1 }));
    const before = db.columns(Health).hp;
    db.transact((tx) => {
      for (let i = 0; i < 2000; i++) tx.add(tx.create(), Health, { hp: i + 2 });
    });
    const after = db.columns(Health).hp;
    expect(after).not.toBe(before);
    expect(after[0]).toBe(1);
    expect(after[2000]).toBe(2001);
  });
});
