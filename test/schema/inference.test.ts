/**
 * TypeScript infers component value shapes from defineComponent. The test command typechecks this
 * file (tsc -p tsconfig.json), so each `@ts-expect-error` below fails the build if the line it
 * marks ever stops being a type error. Each line also runs, and the runtime rejects it too.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineComponent, open, t, type Entity } from '../../src/index.js';
import { expectEcsdbError } from '../helpers/errors.js';

const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const Misc = defineComponent('Misc', {
  flag: t.bool,
  label: t.string,
  target: t.entity,
  dir: t.array(t.f32, 3),
  count: t.u16,
});
const Frozen = defineComponent('Frozen', {});

async function fixture() {
  const db = await open({ components: [Position, Misc, Frozen] });
  const e = db.transact((tx) => tx.create()).value;
  return { db, e };
}

describe('component value types', () => {
  it('accepts a partial value with known fields: tx.add(e, Position, { x: 1 })', async () => {
    const { db, e } = await fixture();
    db.transact((tx) => tx.add(e, Position, { x: 1 }));
    expect(db.get(e, Position)).toEqual({ x: 1, y: 0, z: 0 });
  });

  it('rejects an unknown field at compile time and at run time: { q: 1 }', async () => {
    const { db, e } = await fixture();
    expectEcsdbError(
      () =>
        db.transact((tx) => {
          // @ts-expect-error q is not a field of Position
          tx.add(e, Position, { q: 1 });
        }),
      'UNKNOWN_FIELD',
    );
  });

  it('rejects a value of the wrong type at compile time and at run time', async () => {
    const { db, e } = await fixture();
    db.transact((tx) => tx.add(e, Position));
    expectEcsdbError(
      () =>
        db.transact((tx) => {
          // @ts-expect-error x is a number
          tx.set(e, Position, { x: 'one' });
        }),
      'INVALID_VALUE',
    );
    expectEcsdbError(
      () =>
        db.transact((tx) => {
          // @ts-expect-error flag is a boolean
          tx.add(e, Misc, { flag: 1 });
        }),
      'INVALID_VALUE',
    );
  });

  it('accepts a tag component with no values or with {}', async () => {
    const { db, e } = await fixture();
    db.transact((tx) => tx.add(e, Frozen));
    db.transact((tx) => tx.set(e, Frozen, {}));
    expect(db.get(e, Frozen)).toEqual({});
  });

  it('rejects any field on a tag component at compile time and at run time', async () => {
    const { db, e } = await fixture();
    expectEcsdbError(
      () =>
        db.transact((tx) => {
          // @ts-expect-error Frozen has no fields
          tx.add(e, Frozen, { x: 1 });
        }),
      'UNKNOWN_FIELD',
    );
  });

  it('requires a values object for set()', async () => {
    const { db, e } = await fixture();
    db.transact((tx) => tx.add(e, Position));
    expectEcsdbError(
      () =>
        db.transact((tx) => {
          // @ts-expect-error set() needs the fields to change
          tx.set(e, Position);
        }),
      'INVALID_VALUE',
    );
  });

  it('types get() as the full value of the component, or undefined', async () => {
    const { db, e } = await fixture();
    db.transact((tx) => tx.add(e, Misc, { label: 'a', target: e, dir: new Float32Array([1, 2, 3]) }));
    const value = db.get(e, Misc);
    expectTypeOf(value).toEqualTypeOf<
      { flag: boolean; label: string; target: Entity | null; dir: number[]; count: number } | undefined
    >();
    expect(value).toEqual({ flag: false, label: 'a', target: e, dir: [1, 2, 3], count: 0 });
    expectTypeOf(db.get(e, Frozen)).toEqualTypeOf<Record<never, never> | undefined>();
  });

  it('types the commit value as what the callback returned', async () => {
    const { db } = await fixture();
    const commit = db.transact(() => ({ answer: 42 }));
    expectTypeOf(commit.value).toEqualTypeOf<{ answer: number }>();
    expect(commit.value.answer).toBe(42);
  });
});
