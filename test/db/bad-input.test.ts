/** Bad input through the public API gets a typed EcsdbError with a stable code, and changes nothing. */
import { describe, expect, it } from 'vitest';
import { defineComponent, open, t, type Database } from '../../src/index.js';
import { entityIdOf } from '../../src/world/entity-id.js';
import { AllTypes, Health, Position, SPEC_COMPONENTS, Target } from '../helpers/fixtures.js';
import { expectEcsdbError } from '../helpers/errors.js';

const Unregistered = defineComponent('Unregistered', { n: t.i32 });

async function fixture(): Promise<{ db: Database; live: number; dead: number }> {
  const db = await open({ components: [...SPEC_COMPONENTS, AllTypes] });
  const [live, dead] = db.transact((tx) => {
    const ids = [tx.create(), tx.create()];
    tx.add(ids[0], Position);
    tx.add(ids[0], AllTypes);
    tx.destroy(ids[1]);
    return ids;
  }).value;
  return { db, live, dead };
}

describe('UNKNOWN_COMPONENT', () => {
  it('is thrown by every call given a component the database was not opened with', async () => {
    const { db, live } = await fixture();
    const error = expectEcsdbError(() => db.get(live, Unregistered), 'UNKNOWN_COMPONENT');
    expect(error.message).toContain('Unregistered');
    expect(error.message).toContain('Position');
    expectEcsdbError(() => db.has(live, Unregistered), 'UNKNOWN_COMPONENT');
    expectEcsdbError(() => db.query(Position, Unregistered), 'UNKNOWN_COMPONENT');
    expectEcsdbError(() => db.queryRows(Unregistered), 'UNKNOWN_COMPONENT');
    expectEcsdbError(() => db.columns(Unregistered), 'UNKNOWN_COMPONENT');
    expectEcsdbError(() => db.transact((tx) => tx.add(live, Unregistered, { n: 1 })), 'UNKNOWN_COMPONENT');
    expectEcsdbError(() => db.transact((tx) => tx.set(live, Unregistered, { n: 1 })), 'UNKNOWN_COMPONENT');
    expectEcsdbError(() => db.transact((tx) => tx.remove(live, Unregistered)), 'UNKNOWN_COMPONENT');
  });

  it('is thrown for a definition with a registered name that is not the registered object', async () => {
    const { db, live } = await fixture();
    const lookalike = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
    expectEcsdbError(() => db.get(live, lookalike), 'UNKNOWN_COMPONENT');
  });
});

describe('NO_SUCH_ENTITY', () => {
  it('is thrown for a destroyed entity, naming it destroyed', async () => {
    const { db, dead } = await fixture();
    const error = expectEcsdbError(() => db.get(dead, Position), 'NO_SUCH_ENTITY');
    expect(error.message).toBe(`entity ${dead} was destroyed`);
    expectEcsdbError(() => db.has(dead, Position), 'NO_SUCH_ENTITY');
  });

  it('is thrown for an id that was never created', async () => {
    const { db } = await fixture();
    const error = expectEcsdbError(() => db.get(77, Position), 'NO_SUCH_ENTITY');
    expect(error.message).toContain('never created');
    expectEcsdbError(() => db.get(entityIdOf(0, 5), Position), 'NO_SUCH_ENTITY');
  });

  it('is thrown for values that are not entity ids', async () => {
    const { db } = await fixture();
    for (const notAnId of [-1, 0.5, Number.NaN, Infinity, 2 ** 31, 2 ** 53, '0', null, entityIdOf(0, 5)]) {
      expectEcsdbError(() => db.get(notAnId as never, Position), 'NO_SUCH_ENTITY');
      expectEcsdbError(() => db.transact((tx) => tx.set(notAnId as never, Position, { x: 1 })), 'NO_SUCH_ENTITY');
    }
  });

  it('is thrown by every transaction operation given a dead entity', async () => {
    const { db, dead } = await fixture();
    expectEcsdbError(() => db.transact((tx) => tx.destroy(dead)), 'NO_SUCH_ENTITY');
    expectEcsdbError(() => db.transact((tx) => tx.add(dead, Health)), 'NO_SUCH_ENTITY');
    expectEcsdbError(() => db.transact((tx) => tx.set(dead, Position, { x: 1 })), 'NO_SUCH_ENTITY');
    expectEcsdbError(() => db.transact((tx) => tx.remove(dead, Position)), 'NO_SUCH_ENTITY');
    expectEcsdbError(() => db.transact((tx) => tx.get(dead, Position)), 'NO_SUCH_ENTITY');
    expectEcsdbError(() => db.transact((tx) => tx.has(dead, Position)), 'NO_SUCH_ENTITY');
  });

  it('is thrown for an entity destroyed earlier in the same transaction', async () => {
    const { db, live } = await fixture();
    expectEcsdbError(
      () =>
        db.transact((tx) => {
          tx.destroy(live);
          tx.destroy(live);
        }),
      'NO_SUCH_ENTITY',
    );
    expect(db.exists(live)).toBe(true);
  });
});

describe('UNKNOWN_FIELD', () => {
  it('is thrown for a field the component does not declare, naming the known fields', async () => {
    const { db, live } = await fixture();
    const error = expectEcsdbError(() => db.transact((tx) => tx.set(live, Position, { q: 1 } as never)), 'UNKNOWN_FIELD');
    expect(error.message).toBe('Position has no field "q" (fields: x, y, z)');
    expect(db.get(live, Position)).toEqual({ x: 0, y: 0, z: 0 });
  });
});

describe('INVALID_VALUE', () => {
  it.each([
    ['an integer out of range', { u8: 256 }],
    ['a negative number into an unsigned field', { u32: -1 }],
    ['a non-integer into an int field', { i32: 2.5 }],
    ['an f32 overflow', { f32: 1e39 }],
    ['an array of the wrong length', { vec3: [1, 2] }],
    ['a string into a number', { f64: '1.5' }],
    ['a number into a string', { string: 1 }],
    ['a number into a bool', { bool: 1 }],
    ['a string with a lone surrogate', { string: '\uDC00' }],
  ])('is thrown for %s, and nothing is written', async (_label, values) => {
    const { db, live } = await fixture();
    const before = db.get(live, AllTypes);
    expectEcsdbError(() => db.transact((tx) => tx.set(live, AllTypes, { i8: 1, ...values } as never)), 'INVALID_VALUE');
    expect(db.get(live, AllTypes)).toEqual(before);
  });

  it('is thrown for an entity reference to a dead entity', async () => {
    const { db, live, dead } = await fixture();
    const error = expectEcsdbError(() => db.transact((tx) => tx.add(live, Target, { entity: dead })), 'INVALID_VALUE');
    expect(error.message).toContain('Target.entity');
    expect(db.has(live, Target)).toBe(false);
  });

  it('is thrown for an entity reference to an entity never created', async () => {
    const { db, live } = await fixture();
    expectEcsdbError(() => db.transact((tx) => tx.add(live, Target, { entity: 12345 })), 'INVALID_VALUE');
  });

  it('is thrown for values that are not an object', async () => {
    const { db, live } = await fixture();
    for (const values of [null, 5, 'x', [1, 2, 3]]) {
      expectEcsdbError(() => db.transact((tx) => tx.set(live, Position, values as never)), 'INVALID_VALUE');
    }
  });
});

describe('COMPONENT_EXISTS and COMPONENT_MISSING', () => {
  it('add of a component the entity has is COMPONENT_EXISTS', async () => {
    const { db, live } = await fixture();
    const error = expectEcsdbError(() => db.transact((tx) => tx.add(live, Position)), 'COMPONENT_EXISTS');
    expect(error.message).toContain('use set()');
  });

  it('set of a component the entity lacks is COMPONENT_MISSING', async () => {
    const { db, live } = await fixture();
    const error = expectEcsdbError(() => db.transact((tx) => tx.set(live, Health, { hp: 1 })), 'COMPONENT_MISSING');
    expect(error.message).toContain('use add()');
  });
});
