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
import { BLOCK_COPY_RUN_MIN, type Journal } from './journal.js';

const F32_MAX = 3.4028234663852886e38;

export function setColumns(world: World, journal: Journal, entities: ArrayLike<number>, table: ComponentTable, columns: object): void {
  // The length is read once: a typed-array subclass's getter could answer differently each time.
  const count: unknown = entities !== null && typeof entities === 'object' ? entities.length : undefined;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new EcsdbError('INVALID_VALUE', `setColumns(${table.def.name}): expected an array of entities, got ${String(entities)}`);
  }
  const given = givenColumns(table, columns, count);
  const scratch = takeSlotArrays(world, count, isTypedArray(entities));
  try {
    const { slots, runStarts } = requireSlotsWithComponent(world, table, entities, count, scratch);
    let mask = 0;
    for (const { field, column } of given) {
      checkColumn(world, table, field, column);
      mask |= 1 << field.index;
    }
    // Every input is valid: from here on nothing throws, so the before-images and the writes
    // below are the whole of what the transaction sees of this call.
    journal.touchCells(table, slots, runStarts, mask);
    for (const { field, column } of given) writeColumn(table, field, column, slots, runStarts);
  } finally {
    scratch.inUse = false;
  }
}

/** A typed array (not a DataView, whose indices are ordinary properties): reading it runs no user code. */
function isTypedArray(value: object): boolean {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
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
    // A typed array's values are plain reads. Any other column is read once, here, into an
    // array: its getters (or a Proxy's traps) run before anything is checked or written, and
    // what is checked is what is written.
    const values = isTypedArray(column) ? column : Array.from({ length }, (_, i) => (column as ArrayLike<unknown>)[i]);
    given.push({ field, column: values as ArrayLike<unknown> });
  }
  return given;
}

/** The entities' slots, and where each run of consecutive slots starts. */
interface Slots {
  readonly slots: Uint32Array;
  /** Index in `slots` of each run's first slot, then `slots.length`: run r is [runStarts[r], runStarts[r + 1]). */
  readonly runStarts: Uint32Array;
}

/** Arrays for a call's slots and run starts; `inUse` while a call holds the world's shared pair. */
interface SlotArrays {
  slots: Uint32Array;
  starts: Uint32Array;
  inUse: boolean;
}

/**
 * One pair of slot arrays per world, for the calls whose ids are a typed array: 8 bytes per id
 * of the largest call, kept until the world is freed. Fresh arrays per call were 80 kB of garbage
 * per 10,000-entity call, and the collections it drove paused a W5 game loop for 5–20 ms
 * (docs/performance.md).
 */
const scratchOf = new WeakMap<World, SlotArrays>();

/**
 * Arrays for `count` slots and `count + 1` run starts: the world's shared pair when `reusable`
 * (the ids are a typed array) and no call holds it, else fresh ones. A call can begin inside
 * another: reading ids that are not a typed array, or a typed-array subclass's `length`,
 * `buffer` or `subarray` (ids or column), runs user code, which may call setColumns again. That
 * call finds the pair in use and gets its own; the caller releases the pair when it is done.
 */
function takeSlotArrays(world: World, count: number, reusable: boolean): SlotArrays {
  if (reusable) {
    let scratch = scratchOf.get(world);
    if (scratch === undefined || (!scratch.inUse && scratch.slots.length < count)) {
      const capacity = Math.max(count, 2 * (scratch?.slots.length ?? 0));
      scratch = { slots: new Uint32Array(capacity), starts: new Uint32Array(capacity + 1), inUse: false };
      scratchOf.set(world, scratch);
    }
    if (!scratch.inUse) {
      scratch.inUse = true;
      return scratch;
    }
  }
  return { slots: new Uint32Array(count), starts: new Uint32Array(count + 1), inUse: false };
}

function requireSlotsWithComponent(world: World, table: ComponentTable, entities: ArrayLike<number>, count: number, arrays: SlotArrays): Slots {
  // Reading a typed array's elements runs no user code, so the table cannot grow during the
  // loop: its presence array is looked up once. Any other input (a DataView's indices are
  // ordinary properties, possibly getters) is read with it looked up again for each entity.
  const stable = isTypedArray(entities);
  const { slots, starts } = arrays;
  let runCount = 0;
  const registry = world.registry;
  let present = table.present;
  let previous = -2;
  for (let i = 0; i < count; i++) {
    const id = entities[i];
    if (!stable) present = table.present;
    // Anything liveSlotOf refuses gets requireLiveSlot's error.
    let slot = typeof id === 'number' ? registry.liveSlotOf(id) : -1;
    if (slot === -1) slot = requireLiveSlot(world, id);
    // present is as long as the table's capacity: a slot beyond it reads undefined.
    if (present[slot] !== 1) {
      throw new EcsdbError('COMPONENT_MISSING', `entity ${id} (index ${i}) has no ${table.def.name}; use add() first`);
    }
    if (slot !== previous + 1) starts[runCount++] = i;
    slots[i] = slot;
    previous = slot;
  }
  starts[runCount] = count;
  return { slots: slots.length === count ? slots : slots.subarray(0, count), runStarts: starts.subarray(0, runCount + 1) };
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

function writeColumn(table: ComponentTable, field: FieldInfo, column: ArrayLike<unknown>, slots: Uint32Array, runStarts: Uint32Array): void {
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
        copyRuns(numbers, values as NumericArray, slots, runStarts, stride);
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
 * Writes a column of the field's own typed-array kind: each long run of consecutive slots (a
 * game's systems usually write blocks of entities) is one block copy instead of a store per value.
 */
function copyRuns(target: NumericArray, values: NumericArray, slots: Uint32Array, runStarts: Uint32Array, stride: number): void {
  for (let r = 0; r + 1 < runStarts.length; r++) {
    const first = runStarts[r];
    const end = runStarts[r + 1];
    if (end - first >= BLOCK_COPY_RUN_MIN) {
      target.set(values.subarray(first * stride, end * stride), slots[first] * stride);
      continue;
    }
    for (let i = first; i < end; i++) {
      const at = slots[i] * stride;
      for (let k = 0; k < stride; k++) target[at + k] = values[i * stride + k];
    }
  }
}
