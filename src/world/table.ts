/**
 * Component tables: one column per field, indexed by entity slot. Numeric, bool and array
 * fields live in typed arrays (arrays inline with a stride), entity references in a Float64Array
 * (NULL_ENTITY for null), strings in a plain array. Columns grow on demand by doubling; a grown
 * column is a new typed array, so zero-copy readers must fetch columns again after commits.
 *
 * `columns` is the object registered with bitecs as the component: bitecs only needs its
 * identity, and users get typed arrays from it for hot loops.
 */
import type { AnyComponentDef } from '../schema/component.js';
import { TYPED_ARRAY_OF, type FieldType, type NumericArray, type NumericKind } from '../schema/types.js';

/** Stored in entity-reference columns for null. Never a valid id. */
export const NULL_ENTITY = -1;

export type Column = NumericArray | string[];

export interface FieldInfo {
  readonly name: string;
  readonly index: number;
  readonly type: FieldType;
  /** Element kind of the backing typed array; undefined for strings. */
  readonly storage: NumericKind | undefined;
  /** Elements per slot: the array length for array fields, else 1. */
  readonly stride: number;
}

export interface ComponentTable {
  readonly def: AnyComponentDef;
  /** Position of the component in the schema; its id in write sets. */
  readonly index: number;
  readonly fields: readonly FieldInfo[];
  readonly fieldIndexByName: ReadonlyMap<string, number>;
  /** Bit i set for every field i: the mask of a write of all fields. */
  readonly fullFieldMask: number;
  /** 1 where the slot's entity has this component. */
  present: Uint8Array;
  /** Columns by field name; also the bitecs component object. */
  readonly columns: Record<string, Column>;
  /** Columns by field index (same arrays as `columns`). */
  readonly columnList: Column[];
  capacity: number;
  /** Number of slots with the component. */
  count: number;
}

const INITIAL_CAPACITY = 1024;

function storageOf(type: FieldType): NumericKind | undefined {
  switch (type.kind) {
    case 'string':
      return undefined;
    case 'bool':
      return 'u8';
    case 'entity':
      return 'f64';
    case 'array':
      return type.element;
    default:
      return type.kind;
  }
}

export function createTable(def: AnyComponentDef, index: number): ComponentTable {
  const fields = def.fieldNames.map((name, fieldIndex): FieldInfo => {
    const type = def.fields[name];
    return { name, index: fieldIndex, type, storage: storageOf(type), stride: type.kind === 'array' ? type.length : 1 };
  });
  const columns: Record<string, Column> = {};
  const columnList = fields.map((field) => newColumn(field, INITIAL_CAPACITY));
  fields.forEach((field, i) => (columns[field.name] = columnList[i]));
  return {
    def,
    index,
    fields,
    fieldIndexByName: new Map(fields.map((field) => [field.name, field.index])),
    fullFieldMask: 2 ** fields.length - 1,
    present: new Uint8Array(INITIAL_CAPACITY),
    columns,
    columnList,
    capacity: INITIAL_CAPACITY,
    count: 0,
  };
}

function newColumn(field: FieldInfo, capacity: number): Column {
  if (field.storage === undefined) return new Array<string>(capacity).fill('');
  const column = new TYPED_ARRAY_OF[field.storage](capacity * field.stride);
  if (field.type.kind === 'entity') column.fill(NULL_ENTITY);
  return column;
}

export function ensureTableCapacity(table: ComponentTable, slotCount: number): void {
  if (slotCount <= table.capacity) return;
  let capacity = table.capacity;
  while (capacity < slotCount) capacity *= 2;
  const present = new Uint8Array(capacity);
  present.set(table.present);
  table.present = present;
  for (const field of table.fields) {
    const old = table.columnList[field.index];
    const column = newColumn(field, capacity);
    if (Array.isArray(old)) {
      for (let i = 0; i < old.length; i++) (column as string[])[i] = old[i];
    } else {
      (column as NumericArray).set(old);
    }
    table.columnList[field.index] = column;
    table.columns[field.name] = column;
  }
  table.capacity = capacity;
}

/** The stored value of one field, as users see it (arrays copied out, null for no entity). */
export function readField(table: ComponentTable, fieldIndex: number, slot: number): unknown {
  const field = table.fields[fieldIndex];
  const column = table.columnList[fieldIndex];
  switch (field.type.kind) {
    case 'string':
      return (column as string[])[slot];
    case 'bool':
      return (column as Uint8Array)[slot] === 1;
    case 'entity': {
      const id = (column as Float64Array)[slot];
      return id === NULL_ENTITY ? null : id;
    }
    case 'array': {
      const start = slot * field.stride;
      return Array.from((column as NumericArray).subarray(start, start + field.stride));
    }
    default:
      return (column as NumericArray)[slot];
  }
}

/** Writes one already validated value. */
export function writeField(table: ComponentTable, fieldIndex: number, slot: number, value: unknown): void {
  const field = table.fields[fieldIndex];
  const column = table.columnList[fieldIndex];
  switch (field.type.kind) {
    case 'string':
      (column as string[])[slot] = value as string;
      return;
    case 'bool':
      (column as Uint8Array)[slot] = value ? 1 : 0;
      return;
    case 'entity':
      (column as Float64Array)[slot] = value === null ? NULL_ENTITY : (value as number);
      return;
    case 'array': {
      const values = value as ArrayLike<number>;
      const start = slot * field.stride;
      for (let i = 0; i < field.stride; i++) (column as NumericArray)[start + i] = values[i];
      return;
    }
    default:
      (column as NumericArray)[slot] = value as number;
  }
}

/** The value a field takes when `add` does not give one: 0, false, '', null, or zeros. */
export function defaultValue(field: FieldInfo): unknown {
  switch (field.type.kind) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'entity':
      return null;
    case 'array':
      return new Array<number>(field.stride).fill(0);
    default:
      return 0;
  }
}

/** The component's whole value at a slot, as a fresh object. */
export function readComponent(table: ComponentTable, slot: number): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of table.fields) value[field.name] = readField(table, field.index, slot);
  return value;
}
