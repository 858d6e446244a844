import { describe, expect, it } from 'vitest';
import { defineComponent, t } from '../../src/index.js';
import { checkFieldValue } from '../../src/world/validate-value.js';
import { createTable } from '../../src/world/table.js';
import { AllTypes } from '../helpers/fixtures.js';
import { expectEcsdbError } from '../helpers/errors.js';

const table = createTable(AllTypes, 0);
const LIVE_ENTITY = 7;
const isAlive = (id: number): boolean => id === LIVE_ENTITY;

function check(fieldName: string, value: unknown): void {
  checkFieldValue(table, table.fields[table.fieldIndexByName.get(fieldName)!], value, isAlive);
}

const F32_MAX = 3.4028234663852886e38;

describe('field value validation accepts', () => {
  it.each([
    ['i8', -128], ['i8', 127], ['u8', 0], ['u8', 255], ['i16', -32768], ['i16', 32767], ['u16', 65535],
    ['i32', -2147483648], ['i32', 2147483647], ['u32', 4294967295], ['u8', -0],
    ['f32', F32_MAX], ['f32', -F32_MAX], ['f32', 1e-50], ['f32', Number.NaN], ['f32', Number.POSITIVE_INFINITY],
    ['f64', Number.MAX_VALUE], ['f64', Number.NaN],
    ['bool', true], ['bool', false], ['string', ''], ['string', 'ünïcødé 🎮'],
    ['entity', null], ['entity', LIVE_ENTITY],
    ['vec3', [1, 2, 3]], ['vec3', new Float32Array(3)], ['bytes', Uint8Array.from([0, 1, 2, 255])],
  ])('%s = %j', (fieldName, value) => {
    expect(() => check(fieldName, value)).not.toThrow();
  });
});

describe('field value validation rejects with INVALID_VALUE', () => {
  it.each([
    ['integer above range', 'i8', 128],
    ['integer below range', 'i8', -129],
    ['negative into unsigned', 'u8', -1],
    ['integer above u16 range', 'u16', 65536],
    ['integer above i32 range', 'i32', 2147483648],
    ['integer above u32 range', 'u32', 4294967296],
    ['non-integer into an int field', 'i32', 1.5],
    ['NaN into an int field', 'u8', Number.NaN],
    ['Infinity into an int field', 'i16', Number.POSITIVE_INFINITY],
    ['f32 overflow', 'f32', 1e39],
    ['negative f32 overflow', 'f32', -3.5e38],
    ['string into a number', 'f64', '1'],
    ['bigint into a number', 'i32', 1n],
    ['number into a bool', 'bool', 1],
    ['number into a string', 'string', 5],
    ['lone surrogate into a string', 'string', 'a\uD800b'],
    ['entity ref to a dead entity', 'entity', 8],
    ['non-number entity ref', 'entity', '7'],
    ['undefined entity ref', 'entity', undefined],
    ['array too short', 'vec3', [1, 2]],
    ['array too long', 'vec3', [1, 2, 3, 4]],
    ['array element out of range', 'bytes', [0, 0, 0, 256]],
    ['array element of the wrong type', 'vec3', [1, '2', 3]],
    ['a number into an array', 'vec3', 3],
    ['a string into an array', 'vec3', 'abc'],
    ['null into an array', 'vec3', null],
  ])('%s', (_label, fieldName, value) => {
    expectEcsdbError(() => check(fieldName, value), 'INVALID_VALUE');
  });

  it('names the component, field, type and value in the message', () => {
    const error = expectEcsdbError(() => check('u8', 300), 'INVALID_VALUE');
    expect(error.message).toBe('AllTypes.u8 (u8): expected an integer from 0 to 255, got 300');
  });

  it('names the offending element of an array', () => {
    const Grid = defineComponent('Grid', { cells: t.array(t.i8, 2) });
    const grid = createTable(Grid, 0);
    const error = expectEcsdbError(() => checkFieldValue(grid, grid.fields[0], [1, 200], isAlive), 'INVALID_VALUE');
    expect(error.message).toContain('element 1');
  });
});
