import { describe, expect, it } from 'vitest';
import { defineComponent, t } from '../../src/index.js';
import {
  NULL_ENTITY,
  createTable,
  defaultValue,
  ensureTableCapacity,
  readComponent,
  readField,
  writeField,
} from '../../src/world/table.js';
import { AllTypes } from '../helpers/fixtures.js';

describe('component tables', () => {
  it('start with 1024 rows and one column per field of the matching storage type', () => {
    const table = createTable(AllTypes, 0);
    expect(table.capacity).toBe(1024);
    expect(table.columns.i8).toBeInstanceOf(Int8Array);
    expect(table.columns.u8).toBeInstanceOf(Uint8Array);
    expect(table.columns.i16).toBeInstanceOf(Int16Array);
    expect(table.columns.u16).toBeInstanceOf(Uint16Array);
    expect(table.columns.i32).toBeInstanceOf(Int32Array);
    expect(table.columns.u32).toBeInstanceOf(Uint32Array);
    expect(table.columns.f32).toBeInstanceOf(Float32Array);
    expect(table.columns.f64).toBeInstanceOf(Float64Array);
    expect(table.columns.bool).toBeInstanceOf(Uint8Array);
    expect(Array.isArray(table.columns.string)).toBe(true);
    expect(table.columns.entity).toBeInstanceOf(Float64Array);
    expect(table.columns.vec3).toBeInstanceOf(Float32Array);
    expect(table.columns.vec3.length).toBe(3 * 1024);
    expect(table.columns.bytes.length).toBe(4 * 1024);
  });

  it('initialise entity-reference columns to null', () => {
    const table = createTable(AllTypes, 0);
    expect(table.columns.entity[17]).toBe(NULL_ENTITY);
    expect(readField(table, table.fieldIndexByName.get('entity')!, 17)).toBeNull();
  });

  it('give defaults 0, false, empty string, null and zeros', () => {
    const table = createTable(AllTypes, 0);
    expect(Object.fromEntries(table.fields.map((field) => [field.name, defaultValue(field)]))).toEqual({
      i8: 0, u8: 0, i16: 0, u16: 0, i32: 0, u32: 0, f32: 0, f64: 0,
      bool: false, string: '', entity: null, vec3: [0, 0, 0], bytes: [0, 0, 0, 0],
    });
  });

  it('read back what was written, per field type', () => {
    const table = createTable(AllTypes, 0);
    const value = {
      i8: -128, u8: 255, i16: -32768, u16: 65535, i32: -2147483648, u32: 4294967295,
      f32: 1.5, f64: Math.PI, bool: true, string: 'héllo', entity: 2 ** 40 + 3,
      vec3: [1, -2, 3.25], bytes: [1, 2, 3, 255],
    };
    for (const field of table.fields) writeField(table, field.index, 9, value[field.name as keyof typeof value]);
    expect(readComponent(table, 9)).toEqual(value);
    expect(readComponent(table, 8).entity).toBeNull();
  });

  it('copy array values out instead of exposing the column', () => {
    const table = createTable(AllTypes, 0);
    const vec = readField(table, table.fieldIndexByName.get('vec3')!, 0) as number[];
    vec[0] = 99;
    expect(table.columns.vec3[0]).toBe(0);
  });

  it('grow by doubling and keep every value', () => {
    const Grow = defineComponent('Grow', { n: t.i32, s: t.string, e: t.entity, v: t.array(t.u16, 2) });
    const table = createTable(Grow, 0);
    for (let slot = 0; slot < 1024; slot++) {
      writeField(table, 0, slot, slot);
      writeField(table, 1, slot, `s${slot}`);
      writeField(table, 3, slot, [slot, slot + 1]);
    }
    table.present[1023] = 1;
    ensureTableCapacity(table, 1025);
    expect(table.capacity).toBe(2048);
    expect(table.columns.n.length).toBe(2048);
    expect(table.columnList[0]).toBe(table.columns.n);
    expect(table.present[1023]).toBe(1);
    expect(readComponent(table, 1023)).toEqual({ n: 1023, s: 's1023', e: null, v: [1023, 1024] });
    expect(readComponent(table, 2047)).toEqual({ n: 0, s: '', e: null, v: [0, 0] });
  });

  it('grow straight to the needed size when it is more than double', () => {
    const table = createTable(AllTypes, 0);
    ensureTableCapacity(table, 5000);
    expect(table.capacity).toBe(8192);
    expect(table.present.length).toBe(8192);
  });
});
