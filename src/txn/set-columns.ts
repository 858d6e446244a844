/**
 * `tx.setColumns`: the bulk form of `tx.set`, for writing one or more fields of many entities
 * from columns (a physics step's positions, say) without an object per entity.
 *
 * It is exactly a sequence of `set(entities[i], component, { field: column[i], ... })` calls,
 * in order: the same checks, the same first-touch before-images in the journal (so rollback
 * restores every cell), and therefore the same write set and WAL record. The only difference
 * is that every check runs before the first write, so a bad value anywhere leaves the world as
 * it was even if the transaction's callback catches the error.
 */
import { EcsdbError } from '../errors.js';
import { INTEGER_RANGE, TYPED_ARRAY_OF, type NumericArray, type NumericKind } from '../schema/types.js';
import { requireLiveSlot } from '../world/read.js';
import { NULL_ENTITY, type ComponentTable, type FieldInfo } from '../world/table.js';
import { checkFieldValue, numericProblem } from '../world/validate-value.js';
import type { World } from '../world/world.js';
import type { Journal } from './journal.js';

const F32_MAX = 3.4028234663852886e38;

export function setColumns(world: World, journal: Journal, entities: ArrayLike<number>, table: ComponentTable, columns: object): void {
  if (entities === null || typeof entities !== 'object' || typeof entities.length !== 'number') {
    throw new EcsdbError('INVALID_VALUE', `setColumns(${table.def.name}): expected an array of entities, got ${String(entities)}`);
  }
  const given = givenColumns(table, columns, entities.length);
  const slots = requireSlotsWithComponent(world, table, entities);
  let mask = 0;
  for (const { field, column } of given) {
    checkColumn(world, table, field, column);
    mask |= 1 << field.index;
  }
  // Every input is valid: from here on nothing throws, so the before-images and the writes
  // below are the whole of what the transaction sees of this call.
  journal.touchCells(table, slots, mask);
  for (const { field, column } of given) writeColumn(table, field, column, slots);
}

interface GivenColumn {
  readonly field: FieldInfo;
  readonly column: ArrayLike<unknown>;
}

function givenColumns(table: ComponentTable, columns: object, entityCount: number): GivenColumn[] {
  if (columns === null || typeof columns !== 'object' || Array.isArray(columns)) {
    throw new EcsdbError('INVALID_VALUE', `setColumns(${table.def.name}): expected an object of columns by field name, got ${String(columns)}`);
  }
  const given: GivenColumn[] = [];
  for (const [name, column] of Object.entries(columns)) {
    if (column === undefined) continue;
    const fieldIndex = table.fieldIndexByName.get(name);
    if (fieldIndex === undefined) {
      const known = table.fields.map((field) => field.name).join(', ');
      throw new EcsdbError('UNKNOWN_FIELD', `${table.def.name} has no field ${JSON.stringify(name)} (fields: ${known === '' ? 'none, it is a tag component' : known})`);
    }
    const field = table.fields[fieldIndex];
    const expected = entityCount * field.stride;
    if (column === null || typeof column !== 'object' || typeof (column as ArrayLike<unknown>).length !== 'number') {
      throw new EcsdbError('INVALID_VALUE', `${table.def.name}.${name}: expected a column (an array of ${expected} values), got ${String(column)}`);
    }
    const length = (column as ArrayLike<unknown>).length;
    if (length !== expected) {
      const per = field.stride === 1 ? '' : ` (${field.stride} per entity)`;
      throw new EcsdbError('INVALID_VALUE', `${table.def.name}.${name}: the column has ${length} values, expected ${expected}${per} for ${entityCount} entities`);
    }
    given.push({ field, column: column as ArrayLike<unknown> });
  }
  return given;
}

function requireSlotsWithComponent(world: World, table: ComponentTable, entities: ArrayLike<number>): Uint32Array {
  const count = entities.length;
  // A fresh array per call, not a shared scratch: reading the user's entities and values can
  // run user code (a getter, a Proxy) that calls setColumns again before this call is done.
  const slots = new Uint32Array(count);
  const present = table.present;
  for (let i = 0; i < count; i++) {
    const slot = requireLiveSlot(world, entities[i]);
    // present is as long as the table's capacity: a slot beyond it reads undefined.
    if (present[slot] !== 1) {
      throw new EcsdbError('COMPONENT_MISSING', `entity ${entities[i]} (index ${i}) has no ${table.def.name}; use add() first`);
    }
    slots[i] = slot;
  }
  return slots;
}

function checkColumn(world: World, table: ComponentTable, field: FieldInfo, column: ArrayLike<unknown>): void {
  const kind = field.type.kind;
  const storage = field.storage;
  if (kind === 'array' || (storage !== undefined && kind !== 'bool' && kind !== 'entity')) {
    // Every value a typed array of the field's own kind holds is a valid value of the field.
    if (column instanceof TYPED_ARRAY_OF[storage!]) return;
    const bad = firstBadNumber(storage!, column);
    if (bad === -1) return;
    const problem = numericProblem(storage!, column[bad]);
    const entityIndex = Math.floor(bad / field.stride);
    throw new EcsdbError('INVALID_VALUE', `${table.def.name}.${field.name}: value ${bad} (entity index ${entityIndex}): ${problem}, got ${String(column[bad])}`);
  }
  for (let i = 0; i < column.length; i++) {
    try {
      checkFieldValue(table, field, column[i], world.isAlive);
    } catch (error) {
      if (error instanceof EcsdbError) throw new EcsdbError(error.code, `${error.message} (entity index ${i})`);
      throw error;
    }
  }
}

/** The index of the first value that does not fit `kind`, or -1. */
function firstBadNumber(kind: NumericKind, column: ArrayLike<unknown>): number {
  const range = INTEGER_RANGE[kind];
  const values = column as ArrayLike<number>;
  if (range !== undefined) {
    const [min, max] = range;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!(typeof v === 'number' && v >= min && v <= max && Math.floor(v) === v)) return i;
    }
    return -1;
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') return i;
    if (kind === 'f32' && (v > F32_MAX || v < -F32_MAX) && v !== Infinity && v !== -Infinity) return i;
  }
  return -1;
}

function writeColumn(table: ComponentTable, field: FieldInfo, column: ArrayLike<unknown>, slots: Uint32Array): void {
  const target = table.columnList[field.index];
  const count = slots.length;
  switch (field.type.kind) {
    case 'string':
      for (let i = 0; i < count; i++) (target as string[])[slots[i]] = column[i] as string;
      return;
    case 'bool':
      for (let i = 0; i < count; i++) (target as Uint8Array)[slots[i]] = column[i] ? 1 : 0;
      return;
    case 'entity':
      for (let i = 0; i < count; i++) (target as Float64Array)[slots[i]] = column[i] === null ? NULL_ENTITY : (column[i] as number);
      return;
    default: {
      const values = column as ArrayLike<number>;
      const numbers = target as NumericArray;
      const stride = field.stride;
      // A block copy equals the per-entity writes unless the input is a view of the column
      // itself, where a later write must see an earlier one: then the loop below.
      if (values instanceof numbers.constructor && (values as NumericArray).buffer !== numbers.buffer) {
        copyRuns(numbers, values as NumericArray, slots, stride);
        return;
      }
      if (stride === 1) {
        for (let i = 0; i < count; i++) numbers[slots[i]] = values[i];
        return;
      }
      for (let i = 0; i < count; i++) {
        const at = slots[i] * stride;
        for (let k = 0; k < stride; k++) numbers[at + k] = values[i * stride + k];
      }
    }
  }
}

/**
 * Writes a column of the field's own typed-array kind: each run of consecutive slots (a game's
 * systems usually write blocks of entities) is one block copy instead of a store per value.
 */
function copyRuns(target: NumericArray, values: NumericArray, slots: Uint32Array, stride: number): void {
  const count = slots.length;
  let first = 0;
  for (let i = 1; i <= count; i++) {
    if (i < count && slots[i] === slots[i - 1] + 1) continue;
    target.set(values.subarray(first * stride, i * stride), slots[first] * stride);
    first = i;
  }
}
