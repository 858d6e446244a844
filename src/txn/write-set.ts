/**
 * The write set: what one committed transaction did to the world, as physical after-images.
 * It is the payload of a WAL record, so it is compact, columnar and idempotent: applying it sets
 * cells to final values and never reads what was there, so applying it twice is harmless and
 * applying it over a newer fuzzy state converges once the later records are applied too.
 *
 * Byte layout, format version 2 (all varints unsigned LEB128, fixed-width values little-endian):
 *
 *   write set    := slotCount:varint, slotCount × slotState,
 *                   componentCount:varint, componentCount × component
 *   slotState    := slot:varint, (generation * 2 + alive):varint
 *   component    := componentIndex:varint,
 *                   removedCount:varint, removedCount × slot:varint,
 *                   upsertCount:varint, upsertCount × upsert
 *   upsert       := fieldMask:varint (bit i = field i is written, at most 31 fields),
 *                   (rowCount * 2 + form):varint, rows,
 *                   then for each field in the mask, ascending: rowCount values of that field
 *   rows         := form 0 (listed): rowCount × slot:varint
 *                 | form 1 (runs):   runCount:varint, runCount × (firstSlot:varint, length:varint),
 *                                    the rows being firstSlot, firstSlot + 1, ... of each run in
 *                                    turn (lengths at least 1, summing to rowCount)
 *   value        := i8 u8 bool: 1 byte | i16 u16: 2 | i32 u32 f32: 4 | f64: 8
 *                   | entity: varint(id + 1), 0 for null
 *                   | string: byteLength:varint, UTF-8 bytes
 *                   | array<K, N>: N values of K
 *
 * Applying, in this order: slot states (a slot that dies or comes to life loses all components),
 * then per component the removals, then the upserts (which add the component where missing and
 * write the masked fields). The same order is used when the write set is built, so the slot and
 * component lists never need to be interleaved.
 *
 * A W1 point commit (one entity, Position x,y,z as f32) encodes to 20 to 22 bytes.
 *
 * Version 2 added the runs form: a tick that writes a block of consecutive entities (the usual
 * case for a game's systems) lists its slots in a few bytes instead of up to 4 per row, and its
 * numeric values are copied out of the table's columns a run at a time instead of one by one.
 * The encoder picks whichever form is smaller, so a point commit keeps its one-slot list.
 */
import { EcsdbError } from '../errors.js';
import type { NumericArray } from '../schema/types.js';
import { ByteFormatError, ByteWriter, LITTLE_ENDIAN_HOST } from '../encoding/bytes.js';
import { NULL_ENTITY, type FieldInfo } from '../world/table.js';
import { ROWS_AS_RUNS, ROWS_LISTED, WIDTH_OF, isFixedWidth, readWriteSet, type WriteSetSink } from './write-set-reader.js';

export const WRITE_SET_FORMAT_VERSION = 2;

/** Final lifecycle state of every slot whose entity was created or destroyed. */
export interface SlotChanges {
  readonly slots: number[];
  readonly generations: number[];
  /** 1 alive, 0 dead (a dead slot's generation is the one its next entity will get). */
  readonly alive: number[];
}

/**
 * One field's values for all rows of an upsert, flattened: array fields take `stride` numbers
 * per row; entity references use NULL_ENTITY for null; bools are 0 or 1.
 */
export type ChangeColumn = number[] | string[];

export interface Upsert {
  readonly fieldMask: number;
  readonly slots: number[];
  /** One column per field in the mask, in ascending field order. */
  readonly columns: ChangeColumn[];
}

/** An upsert whose values are copied out of a table's live columns at `slots`. */
export function upsertFromTable(tableColumns: readonly (ArrayLike<number> | string[])[], fields: readonly FieldInfo[], fieldMask: number, slots: ArrayLike<number>): Upsert {
  const columns = fieldsOfMask(fieldMask).map((f) => gatherColumn(tableColumns[f], fields[f].stride, slots, fields[f].storage === undefined));
  return { fieldMask, slots: Array.from(slots), columns };
}

function gatherColumn(column: ArrayLike<number> | string[], stride: number, slots: ArrayLike<number>, isString: boolean): ChangeColumn {
  if (isString) return Array.from(slots, (slot) => (column as string[])[slot]);
  const values: number[] = new Array(slots.length * stride);
  for (let r = 0; r < slots.length; r++) {
    for (let k = 0; k < stride; k++) values[r * stride + k] = (column as ArrayLike<number>)[slots[r] * stride + k];
  }
  return values;
}

export interface ComponentChanges {
  readonly componentIndex: number;
  readonly removedSlots: number[];
  readonly upserts: Upsert[];
}

export interface WriteSet {
  readonly slots: SlotChanges;
  readonly components: ComponentChanges[];
}

/** The schema a write set is encoded against: the fields of each component, by index. */
export type WriteSetSchema = readonly (readonly FieldInfo[])[];

export function isEmptyWriteSet(writeSet: WriteSet): boolean {
  return writeSet.slots.slots.length === 0 && writeSet.components.length === 0;
}

/** The indices of the fields set in `mask`, ascending. */
export function fieldsOfMask(mask: number): number[] {
  const indices: number[] = [];
  let rest = mask;
  for (let index = 0; rest > 0; index++) {
    if (rest % 2 === 1) indices.push(index);
    rest = Math.floor(rest / 2);
  }
  return indices;
}

export function encodeWriteSet(writeSet: WriteSet, schema: WriteSetSchema): Uint8Array {
  const writer = new ByteWriter(64);
  encodeWriteSetInto(writer, writeSet, schema);
  return writer.toBytes();
}

/** Appends the encoding of a plain write set to `writer`. */
function encodeWriteSetInto(writer: ByteWriter, writeSet: WriteSet, schema: WriteSetSchema): void {
  const { slots, generations, alive } = writeSet.slots;
  writer.varint(slots.length);
  for (let i = 0; i < slots.length; i++) {
    writer.varint(slots[i]);
    writer.varint(generations[i] * 2 + alive[i]);
  }
  writer.varint(writeSet.components.length);
  for (const component of writeSet.components) {
    const fields = schema[component.componentIndex];
    writer.varint(component.componentIndex);
    writer.varint(component.removedSlots.length);
    for (const slot of component.removedSlots) writer.varint(slot);
    writer.varint(component.upserts.length);
    for (const upsert of component.upserts) encodeUpsert(writer, upsert, fields);
  }
}

function encodeUpsert(writer: ByteWriter, upsert: Upsert, fields: readonly FieldInfo[]): void {
  const slots = upsert.slots;
  encodeUpsertRows(writer, upsert.fieldMask, rowsOf(slots));
  const fieldIndices = fieldsOfMask(upsert.fieldMask);
  for (let c = 0; c < fieldIndices.length; c++) encodeColumn(writer, fields[fieldIndices[c]], upsert.columns[c], slots.length, undefined);
}

/**
 * An upsert's rows as they are collected: `slots[0 .. count)` in order, and their maximal runs
 * of consecutive slots (s, s + 1, ...) as (first, length) pairs `runs[0 .. 2 * runCount)`, kept
 * up to date by `addRow`. The journal keeps one per table and reuses it for every commit.
 */
export interface Rows {
  slots: Uint32Array;
  count: number;
  runs: Uint32Array;
  runCount: number;
}

export function newRows(capacity: number): Rows {
  return { slots: new Uint32Array(capacity), count: 0, runs: new Uint32Array(2 * capacity), runCount: 0 };
}

/** Appends a slot (there must be room): it extends the last run or starts a new one. */
export function addRow(rows: Rows, slot: number): void {
  addRun(rows, slot, 1);
}

/** Appends the `length` consecutive slots from `first` (there must be room): one run, or the last one extended. */
export function addRun(rows: Rows, first: number, length: number): void {
  const count = rows.count;
  if (count > 0 && rows.slots[count - 1] + 1 === first) {
    rows.runs[2 * rows.runCount - 1] += length;
  } else {
    rows.runs[2 * rows.runCount] = first;
    rows.runs[2 * rows.runCount + 1] = length;
    rows.runCount++;
  }
  const slots = rows.slots;
  for (let k = 0; k < length; k++) slots[count + k] = first + k;
  rows.count = count + length;
}

export function clearRows(rows: Rows): void {
  rows.count = 0;
  rows.runCount = 0;
}

function rowsOf(slots: ArrayLike<number>): Rows {
  const rows = newRows(slots.length);
  for (let i = 0; i < slots.length; i++) addRow(rows, slots[i]);
  return rows;
}

/** Writes an upsert's field mask, row header and rows, choosing the form; returns whether the rows went as runs. */
function encodeUpsertRows(writer: ByteWriter, fieldMask: number, rows: Rows): boolean {
  const { slots, count, runs, runCount } = rows;
  // Two varints per run against one per row: runs only when they are clearly fewer, and only
  // when the upsert writes a field (the reader bounds runs' rows by the values' bytes, and an
  // upsert without fields, a tag's, has none).
  const asRuns = fieldMask !== 0 && 2 * runCount < count;
  writer.varint(fieldMask);
  writer.varint(count * 2 + (asRuns ? ROWS_AS_RUNS : ROWS_LISTED));
  if (asRuns) {
    writer.varint(runCount);
    for (let i = 0; i < 2 * runCount; i++) writer.varint(runs[i]);
  } else {
    for (let i = 0; i < count; i++) writer.varint(slots[i]);
  }
  return asRuns;
}

/**
 * Writes an upsert of a live table straight from its columns (the commit path): the same bytes
 * as `upsertFromTable` then the plain encoder, without copying anything into arrays first.
 */
export function encodeTableUpsert(
  writer: ByteWriter,
  fields: readonly FieldInfo[],
  tableColumns: readonly (ArrayLike<number> | string[])[],
  fieldMask: number,
  rows: Rows,
): void {
  const asRuns = encodeUpsertRows(writer, fieldMask, rows);
  for (let f = 0; f < fields.length; f++) {
    if ((fieldMask & (1 << f)) === 0) continue;
    const field = fields[f];
    if (asRuns && canCopyBytes(field)) copyRunsOfColumn(writer, field, tableColumns[f] as NumericArray, rows);
    else encodeColumn(writer, field, tableColumns[f], rows.count, rows.slots);
  }
}

/**
 * Whether a field's column bytes are its encoded bytes: a fixed-width field (bools are stored
 * as 0/1 bytes) on a little-endian machine, where typed arrays hold little-endian values.
 */
function canCopyBytes(field: FieldInfo): boolean {
  return LITTLE_ENDIAN_HOST && isFixedWidth(field);
}

/** Writes a column's values at the rows' slots, a run at a time, as byte copies. */
function copyRunsOfColumn(writer: ByteWriter, field: FieldInfo, column: NumericArray, rows: Rows): void {
  const elementBytes = column.BYTES_PER_ELEMENT * field.stride;
  writer.ensure(rows.count * elementBytes);
  const source = new Uint8Array(column.buffer, column.byteOffset, column.length * column.BYTES_PER_ELEMENT);
  const target = writer.bytes;
  const runs = rows.runs;
  let length = writer.length;
  for (let r = 0; r < 2 * rows.runCount; r += 2) {
    const from = runs[r] * elementBytes;
    const bytes = runs[r + 1] * elementBytes;
    target.set(source.subarray(from, from + bytes), length);
    length += bytes;
  }
  writer.length = length;
}

/**
 * Writes a column's values: element i of row r is `column[r * stride + i]`, or, with `slots`,
 * `column[slots[r] * stride + i]` (reading a live table column directly).
 */
function encodeColumn(writer: ByteWriter, field: FieldInfo, column: ArrayLike<number> | string[], rowCount: number, slots: ArrayLike<number> | undefined): void {
  const kind = field.type.kind;
  const stride = field.stride;
  const at = (r: number, k: number) => (slots === undefined ? r : slots[r]) * stride + k;
  if (kind === 'string') {
    for (let r = 0; r < rowCount; r++) writer.string((column as string[])[at(r, 0)]);
    return;
  }
  const values = column as ArrayLike<number>;
  if (kind === 'entity') {
    for (let r = 0; r < rowCount; r++) {
      const id = values[at(r, 0)];
      writer.varint(id === NULL_ENTITY ? 0 : id + 1);
    }
    return;
  }
  const count = rowCount * stride;
  const storage = field.storage!;
  const width = WIDTH_OF[storage];
  writer.ensure(count * width);
  const view = writer.view;
  const start = writer.length;
  // The common case, a scalar f32 column read at the upsert's slots, gets its own loop: the
  // general one below pays for the kind switch and the stride arithmetic on every value.
  if (storage === 'f32' && stride === 1 && slots !== undefined) {
    for (let i = 0; i < count; i++) view.setFloat32(start + 4 * i, values[slots[i]], true);
    writer.length = start + 4 * count;
    return;
  }
  let offset = start;
  for (let i = 0; i < count; i++, offset += width) {
    const value = stride === 1 ? values[slots === undefined ? i : slots[i]] : values[at(Math.floor(i / stride), i % stride)];
    switch (storage) {
      case 'i8':
        view.setInt8(offset, value);
        break;
      case 'u8':
        view.setUint8(offset, value);
        break;
      case 'i16':
        view.setInt16(offset, value, true);
        break;
      case 'u16':
        view.setUint16(offset, value, true);
        break;
      case 'i32':
        view.setInt32(offset, value, true);
        break;
      case 'u32':
        view.setUint32(offset, value, true);
        break;
      case 'f32':
        view.setFloat32(offset, value, true);
        break;
      case 'f64':
        view.setFloat64(offset, value, true);
        break;
    }
  }
  writer.length = offset;
}


/**
 * Decodes a write set into objects, checking every count and index against the remaining bytes
 * and the schema, so damaged input fails with CORRUPT_WAL (naming the byte) instead of
 * allocating what a lying length asks for or writing outside a table.
 */
export function decodeWriteSet(bytes: Uint8Array, schema: WriteSetSchema): WriteSet {
  const sink = new BuildSink(schema);
  try {
    readWriteSet(bytes, schema, sink);
  } catch (error) {
    throw asCorruptWal(error);
  }
  return sink.writeSet;
}

/** Turns a ByteFormatError from reading a write set into CORRUPT_WAL; passes others through. */
export function asCorruptWal(error: unknown): unknown {
  if (error instanceof ByteFormatError) {
    return new EcsdbError('CORRUPT_WAL', `write set is malformed: ${error.message}`, { cause: error });
  }
  return error;
}

class BuildSink implements WriteSetSink {
  readonly writeSet: WriteSet = { slots: { slots: [], generations: [], alive: [] }, components: [] };
  private current: ComponentChanges | undefined;
  private columns: ChangeColumn[] = [];
  private columnOfField: number[] = [];

  constructor(private readonly schema: WriteSetSchema) {}

  slotState(slot: number, generation: number, alive: boolean): void {
    const slots = this.writeSet.slots;
    slots.slots.push(slot);
    slots.generations.push(generation);
    slots.alive.push(alive ? 1 : 0);
  }

  component(componentIndex: number): void {
    this.current = { componentIndex, removedSlots: [], upserts: [] };
    this.writeSet.components.push(this.current);
  }

  removed(_componentIndex: number, slot: number): void {
    this.current!.removedSlots.push(slot);
  }

  upsert(componentIndex: number, fieldMask: number, slots: Uint32Array, rowCount: number): void {
    const fieldIndices = fieldsOfMask(fieldMask);
    const fields = this.schema[componentIndex];
    this.columns = fieldIndices.map((f) => new Array(rowCount * (fields[f].type.kind === 'string' ? 1 : fields[f].stride)));
    this.columnOfField = [];
    fieldIndices.forEach((f, c) => (this.columnOfField[f] = c));
    this.current!.upserts.push({ fieldMask, slots: Array.from(slots.subarray(0, rowCount)), columns: this.columns });
  }

  value(fieldIndex: number, index: number, value: number | string): void {
    this.columns[this.columnOfField[fieldIndex]][index] = value as never;
  }
}
