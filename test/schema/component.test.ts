import { describe, expect, it } from 'vitest';
import { defineComponent, t } from '../../src/index.js';
import { COMPONENT_FIELD_COUNT_MAX } from '../../src/schema/component.js';
import { ARRAY_FIELD_LENGTH_MAX, type FieldType } from '../../src/schema/types.js';
import { expectEcsdbError } from '../helpers/errors.js';

describe('defineComponent()', () => {
  it('accepts every scalar field type', () => {
    const def = defineComponent('Scalars', {
      a: t.i8,
      b: t.u8,
      c: t.i16,
      d: t.u16,
      e: t.i32,
      f: t.u32,
      g: t.f32,
      h: t.f64,
      i: t.bool,
      j: t.string,
      k: t.entity,
    });
    expect(Object.values(def.fields).map((type) => type.kind)).toEqual([
      'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'f32', 'f64', 'bool', 'string', 'entity',
    ]);
  });

  it('accepts fixed-length numeric arrays of every numeric kind', () => {
    const kinds = [t.i8, t.u8, t.i16, t.u16, t.i32, t.u32, t.f32, t.f64];
    const fields = Object.fromEntries(kinds.map((kind, i) => [`a${i}`, t.array(kind, i + 1)]));
    const def = defineComponent('Arrays', fields);
    expect(def.fields.a2).toEqual({ kind: 'array', element: 'i16', length: 3 });
    expect(def.fields.a7).toEqual({ kind: 'array', element: 'f64', length: 8 });
  });

  it('accepts a tag component with no fields', () => {
    const Frozen = defineComponent('Frozen', {});
    expect(Frozen.name).toBe('Frozen');
    expect(Frozen.fieldNames).toEqual([]);
  });

  it('keeps the fields in declaration order, which is their on-disk index', () => {
    const def = defineComponent('Ordered', { z: t.f32, a: t.i32, m: t.string });
    expect(def.fieldNames).toEqual(['z', 'a', 'm']);
  });

  it('returns a frozen definition that does not share the caller\'s fields object', () => {
    const fields: Record<string, FieldType> = { x: t.f32 };
    const def = defineComponent('Frozen1', fields);
    fields.y = t.f32;
    expect(Object.isFrozen(def)).toBe(true);
    expect(Object.isFrozen(def.fields)).toBe(true);
    expect(Object.isFrozen(def.fieldNames)).toBe(true);
    expect(Object.keys(def.fields)).toEqual(['x']);
  });

  it(`accepts exactly ${COMPONENT_FIELD_COUNT_MAX} fields`, () => {
    const fields = Object.fromEntries(Array.from({ length: COMPONENT_FIELD_COUNT_MAX }, (_, i) => [`f${i}`, t.u8]));
    expect(defineComponent('Wide', fields).fieldNames).toHaveLength(COMPONENT_FIELD_COUNT_MAX);
  });
});

describe('defineComponent() rejects bad schemas with INVALID_SCHEMA', () => {
  it.each(['', '1abc', 'has space', 'a/b', 'x'.repeat(129), 'é'])('rejects the component name %j', (name) => {
    expectEcsdbError(() => defineComponent(name, { x: t.f32 }), 'INVALID_SCHEMA');
  });

  it('rejects a name that is not a string', () => {
    expectEcsdbError(() => defineComponent(42 as unknown as string, {}), 'INVALID_SCHEMA');
  });

  it('accepts names with the allowed punctuation', () => {
    expect(defineComponent('game.Position:v2-a_b', {}).name).toBe('game.Position:v2-a_b');
    expect(defineComponent('x'.repeat(128), {}).name).toHaveLength(128);
  });

  it.each(['', '9lives', 'with space', 'semi;colon'])('rejects the field name %j', (fieldName) => {
    expectEcsdbError(() => defineComponent('C', { [fieldName]: t.f32 }), 'INVALID_SCHEMA');
  });

  it(`rejects more than ${COMPONENT_FIELD_COUNT_MAX} fields`, () => {
    const fields = Object.fromEntries(Array.from({ length: COMPONENT_FIELD_COUNT_MAX + 1 }, (_, i) => [`f${i}`, t.u8]));
    const error = expectEcsdbError(() => defineComponent('TooWide', fields), 'INVALID_SCHEMA');
    expect(error.message).toContain(String(COMPONENT_FIELD_COUNT_MAX));
  });

  it.each([
    ['null', null],
    ['an array', [t.f32]],
    ['a string', 'x: f32'],
  ])('rejects fields given as %s', (_label, fields) => {
    expectEcsdbError(() => defineComponent('C', fields as never), 'INVALID_SCHEMA');
  });

  it.each([
    ['undefined', undefined],
    ['a string', 'f32'],
    ['an unknown kind', { kind: 'f16' }],
    ['an object without kind', {}],
  ])('rejects a field type that is %s', (_label, type) => {
    expectEcsdbError(() => defineComponent('C', { x: type as never }), 'INVALID_SCHEMA');
  });

  it('rejects arrays of non-numeric elements', () => {
    expectEcsdbError(() => defineComponent('C', { a: t.array(t.string as never, 3) }), 'INVALID_SCHEMA');
    expectEcsdbError(() => defineComponent('C', { a: t.array(t.bool as never, 3) }), 'INVALID_SCHEMA');
  });

  it.each([0, -1, 2.5, ARRAY_FIELD_LENGTH_MAX + 1, Number.NaN])('rejects the array length %d', (length) => {
    expectEcsdbError(() => defineComponent('C', { a: t.array(t.f32, length) }), 'INVALID_SCHEMA');
  });

  it(`accepts array lengths 1 and ${ARRAY_FIELD_LENGTH_MAX}`, () => {
    expect(defineComponent('C', { a: t.array(t.f32, 1), b: t.array(t.u8, ARRAY_FIELD_LENGTH_MAX) }).fieldNames).toEqual(['a', 'b']);
  });
});
