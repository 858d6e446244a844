/**
 * The evolution plan (src/schema/evolution.ts): which type changes convert without user code,
 * and how components and fields are matched by name.
 */
import { describe, expect, test } from 'vitest';
import { defineComponent, t } from '../../src/index.js';
import { schemaOf } from '../../src/meta/meta-file.js';
import { isWideningKind, planEvolution, unconvertibleFields } from '../../src/schema/evolution.js';
import { INTEGER_RANGE, NUMERIC_KINDS, TYPED_ARRAY_OF } from '../../src/schema/types.js';

/** The widenings the issue asks for, at least: every one of them must convert. */
const REQUIRED: [string, string[]][] = [
  ['i8', ['i16', 'i32', 'f64']],
  ['u8', ['u16', 'u32', 'i16', 'i32', 'f64']],
  ['i16', ['i32', 'f64']],
  ['u16', ['u32', 'i32', 'f64']],
  ['i32', ['f64']],
  ['u32', ['f64']],
  ['f32', ['f64']],
];

describe('numeric widening', () => {
  test.each(REQUIRED)('%s widens to each of %j', (from, targets) => {
    for (const to of targets) expect(isWideningKind(from, to), `${from} → ${to}`).toBe(true);
  });

  test('a widening keeps every extreme value of the old kind exactly; every other pair is refused', () => {
    // Checked against the typed arrays themselves: store the old kind's extremes (and a
    // fraction for floats) in the new kind and read them back unchanged.
    const samples = (kind: string): number[] => {
      const range = INTEGER_RANGE[kind as keyof typeof INTEGER_RANGE];
      if (range !== undefined) return [range[0], range[1], range[0] + 1, range[1] - 1];
      return kind === 'f32' ? [Math.fround(0.1), Math.fround(3.4e38), Math.fround(-1e-40)] : [0.1, Number.MAX_VALUE, 2 ** 53 + 2];
    };
    let widenings = 0;
    for (const from of NUMERIC_KINDS) {
      for (const to of NUMERIC_KINDS) {
        if (from === to) continue;
        const column = new TYPED_ARRAY_OF[to](4);
        const exact = samples(from).every((value) => {
          column[0] = value;
          return column[0] === value;
        });
        if (isWideningKind(from, to)) {
          widenings++;
          expect(exact, `${from} → ${to} is called a widening but loses values`).toBe(true);
        } else {
          // A refused pair must lose some value of the old kind (or be a narrowing of a float).
          expect(exact && !(from.startsWith('f') && to.startsWith('i')), `${from} → ${to} is exact but refused`).toBe(false);
        }
      }
    }
    expect(widenings).toBeGreaterThanOrEqual(REQUIRED.flatMap(([, targets]) => targets).length);
  });

  test('bool, string and entity fields never change type without a migration', () => {
    for (const [from, to] of [['bool', 'u8'], ['u8', 'bool'], ['string', 'i32'], ['entity', 'f64'], ['f64', 'entity']]) {
      expect(isWideningKind(from, to), `${from} → ${to}`).toBe(false);
    }
  });
});

describe('planEvolution', () => {
  const Old = defineComponent('Thing', { a: t.i16, b: t.string, c: t.array(t.u8, 2), gone: t.bool, w: t.i32 });
  const Removed = defineComponent('Removed', { r: t.u8 });

  test('matches by name whatever the order, and classifies every field', () => {
    const New = defineComponent('Thing', { added: t.f32, c: t.array(t.u16, 2), b: t.string, a: t.f64, w: t.i32 });
    const Added = defineComponent('Added', {});
    const plan = planEvolution(schemaOf([Old, Removed]), schemaOf([Added, New]));
    expect(plan.identical).toBe(false);
    expect(plan.removedComponents).toEqual(['Removed']);
    expect(plan.components[0]).toMatchObject({ name: 'Added', oldIndex: undefined });
    expect(plan.components[1]).toMatchObject({ name: 'Thing', oldIndex: 0, newIndex: 1, droppedFields: ['gone'] });
    expect(plan.components[1].fields.map((f) => f.kind)).toEqual(['default', 'widen', 'copy', 'widen', 'copy']);
    expect(unconvertibleFields(plan, schemaOf([Added, New]))).toEqual([]);
  });

  test.each([
    ['a narrowed integer', { a: t.i8 }, 'i16', 'i8'],
    ['an integer a float cannot hold exactly', { w: t.f32 }, 'i32', 'f32'],
    ['a string to a number', { b: t.i32 }, 'string', 'i32'],
    ['a changed array length', { c: t.array(t.u8, 3) }, 'array<u8, 2>', 'array<u8, 3>'],
    ['a scalar to an array', { a: t.array(t.i16, 1) }, 'i16', 'array<i16, 1>'],
  ])('%s needs a migration, named with both types', (_what, fields, from, to) => {
    const New = defineComponent('Thing', fields);
    const found = unconvertibleFields(planEvolution(schemaOf([Old]), schemaOf([New])), schemaOf([New]));
    expect(found).toEqual([{ component: 'Thing', field: Object.keys(fields)[0], from, to }]);
  });
});
