/** The Transaction object's operations, through the public API (db.transact hands it out). */
import { describe, expect, it } from 'vitest';
import { open, type Database } from '../../src/index.js';
import { AllTypes, Frozen, Health, Name, Position, SPEC_COMPONENTS, Target } from '../helpers/fixtures.js';
import { expectEcsdbError } from '../helpers/errors.js';

async function openDb(): Promise<Database> {
  return open({ components: [...SPEC_COMPONENTS, AllTypes] });
}

describe('Transaction#create()', () => {
  it('returns a new live entity with no components', async () => {
    const db = await openDb();
    const e = db.transact((tx) => tx.create()).value;
    expect(db.exists(e)).toBe(true);
    expect(db.has(e, Position)).toBe(false);
    expect(db.entityCount).toBe(1);
  });

  it('allocates the same ids for the same sequence of operations', async () => {
    const run = async (): Promise<number[]> => {
      const db = await openDb();
      const ids: number[] = [];
      for (let round = 0; round < 5; round++) {
        db.transact((tx) => {
          for (let i = 0; i < 4; i++) ids.push(tx.create());
          tx.destroy(ids[round * 2]);
        });
      }
      return ids;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(new Set(first).size).toBe(first.length);
  });
});

describe('Transaction#destroy()', () => {
  it('removes the entity and all its components', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Position);
      tx.add(id, Frozen);
      return id;
    }).value;
    db.transact((tx) => tx.destroy(e));
    expect(db.exists(e)).toBe(false);
    expect(db.query(Position)).toEqual([]);
    expect(db.query(Frozen)).toEqual([]);
  });

  it('never lets the stale id name the entity that reuses its slot', async () => {
    const db = await openDb();
    const stale = db.transact((tx) => tx.create()).value;
    db.transact((tx) => tx.destroy(stale));
    const reused = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Health, { hp: 5 });
      return id;
    }).value;
    expect(reused).not.toBe(stale);
    expect(db.exists(stale)).toBe(false);
    expectEcsdbError(() => db.get(stale, Health), 'NO_SUCH_ENTITY');
    expectEcsdbError(() => db.transact((tx) => tx.set(stale, Health, { hp: 1 })), 'NO_SUCH_ENTITY');
    expectEcsdbError(() => db.transact((tx) => tx.destroy(stale)), 'NO_SUCH_ENTITY');
    expect(db.get(reused, Health)).toEqual({ hp: 5 });
  });

  it('leaves references to the destroyed entity as they are (stale, never aliased)', async () => {
    const db = await openDb();
    const [a, b] = db.transact((tx) => {
      const ids = [tx.create(), tx.create()];
      tx.add(ids[0], Target, { entity: ids[1] });
      return ids;
    }).value;
    db.transact((tx) => tx.destroy(b));
    const reused = db.transact((tx) => tx.create()).value;
    expect(db.get(a, Target)).toEqual({ entity: b });
    expect(db.exists(db.get(a, Target)!.entity!)).toBe(false);
    expect(reused).not.toBe(b);
  });
});

describe('Transaction#add()', () => {
  it('fills the fields not given with defaults: 0, false, empty string, null, zeros', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, AllTypes, { i32: 5 });
      return id;
    }).value;
    expect(db.get(e, AllTypes)).toEqual({
      i8: 0, u8: 0, i16: 0, u16: 0, i32: 5, u32: 0, f32: 0, f64: 0,
      bool: false, string: '', entity: null, vec3: [0, 0, 0], bytes: [0, 0, 0, 0],
    });
  });

  it('stores every field type as given', async () => {
    const db = await openDb();
    const value = {
      i8: -128, u8: 255, i16: 32767, u16: 0, i32: -1, u32: 4294967295, f32: 0.5, f64: 1 / 3,
      bool: true, string: 'héllo 🎮', entity: null, vec3: [1.5, -2, 1e10], bytes: [0, 128, 255, 7],
    };
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, AllTypes, { ...value, entity: id });
      return id;
    }).value;
    expect(db.get(e, AllTypes)).toEqual({ ...value, entity: e });
  });

  it('rounds f32 fields to single precision', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Position, { x: 0.1 });
      return id;
    }).value;
    expect(db.get(e, Position)!.x).toBe(Math.fround(0.1));
  });

  it('rejects a component the entity already has with COMPONENT_EXISTS', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Position, { x: 1 });
      return id;
    }).value;
    expectEcsdbError(() => db.transact((tx) => tx.add(e, Position, { x: 2 })), 'COMPONENT_EXISTS');
    expect(db.get(e, Position)).toEqual({ x: 1, y: 0, z: 0 });
  });

  it('writes nothing when one of the values is invalid', async () => {
    const db = await openDb();
    const e = db.transact((tx) => tx.create()).value;
    db.transact((tx) => {
      expectEcsdbError(() => tx.add(e, AllTypes, { i32: 7, u8: 256 }), 'INVALID_VALUE');
      expect(tx.has(e, AllTypes)).toBe(false);
      expectEcsdbError(() => tx.add(e, AllTypes, { i32: 7, nope: 1 } as never), 'UNKNOWN_FIELD');
      expect(tx.has(e, AllTypes)).toBe(false);
    });
    expect(db.has(e, AllTypes)).toBe(false);
  });

  it('accepts a reference to an entity created earlier in the same transaction', async () => {
    const db = await openDb();
    const [a, b] = db.transact((tx) => {
      const ids = [tx.create(), tx.create()];
      tx.add(ids[0], Target, { entity: ids[1] });
      return ids;
    }).value;
    expect(db.get(a, Target)).toEqual({ entity: b });
  });
});

describe('Transaction#set()', () => {
  it('changes only the given fields', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Position, { x: 1, y: 2, z: 3 });
      tx.set(id, Position, { x: 4 });
      return id;
    }).value;
    expect(db.get(e, Position)).toEqual({ x: 4, y: 2, z: 3 });
  });

  it('ignores fields given as undefined', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Position, { x: 1, y: 2, z: 3 });
      tx.set(id, Position, { x: undefined, y: 5 });
      return id;
    }).value;
    expect(db.get(e, Position)).toEqual({ x: 1, y: 5, z: 3 });
  });

  it('rejects a component the entity does not have with COMPONENT_MISSING', async () => {
    const db = await openDb();
    const e = db.transact((tx) => tx.create()).value;
    expectEcsdbError(() => db.transact((tx) => tx.set(e, Position, { x: 1 })), 'COMPONENT_MISSING');
  });

  it('writes nothing when one of the values is invalid', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Position, { x: 1, y: 2, z: 3 });
      return id;
    }).value;
    db.transact((tx) => {
      expectEcsdbError(() => tx.set(e, Position, { x: 9, y: 'no' as never }), 'INVALID_VALUE');
      expect(tx.get(e, Position)).toEqual({ x: 1, y: 2, z: 3 });
    });
    expect(db.get(e, Position)).toEqual({ x: 1, y: 2, z: 3 });
  });
});

describe('Transaction#remove()', () => {
  it('removes the component and keeps the entity', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Position);
      tx.add(id, Name, { value: 'n' });
      return id;
    }).value;
    db.transact((tx) => tx.remove(e, Position));
    expect(db.has(e, Position)).toBe(false);
    expect(db.get(e, Name)).toEqual({ value: 'n' });
    expect(db.exists(e)).toBe(true);
  });

  it('is a no-op for a component the entity does not have', async () => {
    const db = await openDb();
    const e = db.transact((tx) => tx.create()).value;
    const commit = db.transact((tx) => tx.remove(e, Position));
    expect(db.has(e, Position)).toBe(false);
    expect(commit.lsn).toBe(1);
  });

  it('lets the component be added again with fresh defaults', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Health, { hp: 9 });
      return id;
    }).value;
    db.transact((tx) => {
      tx.remove(e, Health);
      tx.add(e, Health);
    });
    expect(db.get(e, Health)).toEqual({ hp: 0 });
  });
});

describe('Transaction reads see the transaction\'s own writes', () => {
  it('get, has, exists and query inside the callback', async () => {
    const db = await openDb();
    const old = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Health, { hp: 1 });
      return id;
    }).value;
    db.transact((tx) => {
      const e = tx.create();
      expect(tx.exists(e)).toBe(true);
      tx.add(e, Health, { hp: 2 });
      expect(tx.has(e, Health)).toBe(true);
      expect(tx.get(e, Health)).toEqual({ hp: 2 });
      tx.set(old, Health, { hp: 3 });
      expect(tx.get(old, Health)).toEqual({ hp: 3 });
      expect(tx.query(Health)).toEqual([old, e]);
      tx.destroy(old);
      expect(tx.exists(old)).toBe(false);
      expect(tx.query(Health)).toEqual([e]);
      expect(tx.query()).toEqual([e]);
    });
  });
});
