/**
 * The one reader of the write-set byte layout (see write-set.ts for the layout). It walks an
 * encoded write set and reports what it finds to a sink, so the same bounds-checked parsing
 * serves both decoding into objects (tests, tools) and replay straight into a world without
 * allocating anything per record (recovery, where it runs millions of times).
 *
 * Every count is checked against the remaining bytes before anything is sized by it, and every
 * index against the schema, so damaged input raises a ByteFormatError at its offset.
 */
import { ByteFormatError, ByteReader } from '../encoding/bytes.js';
import { GENERATION_MAX, SLOT_COUNT_MAX } from '../world/entity-id.js';
import { NULL_ENTITY, type FieldInfo } from '../world/table.js';
import type { WriteSetSchema } from './write-set.js';

export interface WriteSetSink {
  /** The changes of one component follow (each component appears at most once). */
  component(componentIndex: number): void;
  slotState(slot: number, generation: number, alive: boolean): void;
  removed(componentIndex: number, slot: number): void;
  /** An upsert starts; `slots[0 .. rowCount)` are its rows (a scratch array, valid until the next call). */
  upsert(componentIndex: number, fieldMask: number, slots: Uint32Array, rowCount: number): void;
  /** One value of the current upsert: element `index` (row * stride + k) of field `fieldIndex`. */
  value(fieldIndex: number, index: number, value: number | string): void;
}

/** The low bit of an upsert's row header: how its slots are written (write-set.ts). */
export const ROWS_LISTED = 0;
export const ROWS_AS_RUNS = 1;

const WIDTH_OF = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4, f64: 8 } as const;

let scratchSlots = new Uint32Array(1024);

export function readWriteSet(bytes: Uint8Array, schema: WriteSetSchema, sink: WriteSetSink): void {
  readWriteSetFrom(new ByteReader(bytes), schema, sink);
}

/** Reads the write set in `reader`'s bytes from its offset to its end (replay reuses one reader). */
export function readWriteSetFrom(reader: ByteReader, schema: WriteSetSchema, sink: WriteSetSink): void {
  const slotCount = readCount(reader, 2, 'slot count');
  for (let i = 0; i < slotCount; i++) {
    const slot = readSlot(reader);
    const state = reader.varint();
    const generation = Math.floor(state / 2);
    if (generation > GENERATION_MAX + 1) throw new ByteFormatError(reader.offset, `generation ${generation} out of range`);
    sink.slotState(slot, generation, state % 2 === 1);
  }
  const componentCount = readCount(reader, 3, 'component count');
  for (let i = 0; i < componentCount; i++) {
    const componentIndex = reader.varint();
    if (componentIndex >= schema.length) {
      throw new ByteFormatError(reader.offset, `component index ${componentIndex} is not in the schema (${schema.length} components)`);
    }
    sink.component(componentIndex);
    const removedCount = readCount(reader, 1, 'removed count');
    for (let r = 0; r < removedCount; r++) sink.removed(componentIndex, readSlot(reader));
    const upsertCount = readCount(reader, 2, 'upsert count');
    for (let u = 0; u < upsertCount; u++) readUpsert(reader, componentIndex, schema[componentIndex], sink);
  }
  if (reader.remaining !== 0) throw new ByteFormatError(reader.offset, `${reader.remaining} trailing bytes`);
}

function readUpsert(reader: ByteReader, componentIndex: number, fields: readonly FieldInfo[], sink: WriteSetSink): void {
  const fieldMask = reader.varint();
  if (fieldMask >= 2 ** fields.length) {
    throw new ByteFormatError(reader.offset, `field mask ${fieldMask} names fields beyond the component's ${fields.length}`);
  }
  const rowHeader = reader.varint();
  const rowCount = Math.floor(rowHeader / 2);
  const asRuns = rowHeader % 2 === ROWS_AS_RUNS;
  // Before anything is sized by rowCount: the values alone take at least this many bytes a row,
  // and a listed slot at least one more.
  const minBytesPerRow = minValueBytesPerRow(fields, fieldMask) + (asRuns ? 0 : 1);
  if (rowCount * minBytesPerRow > reader.remaining || rowCount > SLOT_COUNT_MAX) {
    throw new ByteFormatError(reader.offset, `row count ${rowCount} exceeds what the ${reader.remaining} remaining bytes can hold`);
  }
  if (scratchSlots.length < rowCount) scratchSlots = new Uint32Array(Math.max(rowCount, scratchSlots.length * 2));
  const slots = scratchSlots;
  if (asRuns) readRuns(reader, slots, rowCount);
  else for (let i = 0; i < rowCount; i++) slots[i] = readSlot(reader);
  sink.upsert(componentIndex, fieldMask, slots, rowCount);
  for (let fieldIndex = 0; fieldIndex < fields.length; fieldIndex++) {
    if ((fieldMask & (1 << fieldIndex)) !== 0) readColumn(reader, fields[fieldIndex], rowCount, sink);
  }
}

/** Fills `slots[0 .. rowCount)` from the runs form (see write-set.ts). */
function readRuns(reader: ByteReader, slots: Uint32Array, rowCount: number): void {
  const runCount = readCount(reader, 2, 'run count');
  let row = 0;
  for (let r = 0; r < runCount; r++) {
    const first = readSlot(reader);
    const length = reader.varint();
    if (length === 0 || length > rowCount - row || first + length > SLOT_COUNT_MAX) {
      throw new ByteFormatError(reader.offset, `run of ${length} slots from slot ${first} does not fit the ${rowCount - row} rows left`);
    }
    for (let i = 0; i < length; i++) slots[row++] = first + i;
  }
  if (row !== rowCount) throw new ByteFormatError(reader.offset, `runs hold ${row} rows, the upsert has ${rowCount}`);
}

/** The fewest bytes one row's values of the masked fields can take. */
function minValueBytesPerRow(fields: readonly FieldInfo[], fieldMask: number): number {
  let bytes = 0;
  for (let f = 0; f < fields.length; f++) {
    if ((fieldMask & (1 << f)) === 0) continue;
    const storage = fields[f].storage;
    // Strings and entity ids are varint-led: one byte at least.
    bytes += storage === undefined || fields[f].type.kind === 'entity' ? 1 : WIDTH_OF[storage] * fields[f].stride;
  }
  return bytes;
}

function readColumn(reader: ByteReader, field: FieldInfo, rowCount: number, sink: WriteSetSink): void {
  const kind = field.type.kind;
  const fieldIndex = field.index;
  if (kind === 'string') {
    reader.need(rowCount, 'string column');
    for (let i = 0; i < rowCount; i++) sink.value(fieldIndex, i, reader.string());
    return;
  }
  if (kind === 'entity') {
    reader.need(rowCount, 'entity column');
    for (let i = 0; i < rowCount; i++) {
      const stored = reader.varint();
      sink.value(fieldIndex, i, stored === 0 ? NULL_ENTITY : stored - 1);
    }
    return;
  }
  const storage = field.storage!;
  const width = WIDTH_OF[storage];
  const count = rowCount * field.stride;
  const start = reader.offset;
  reader.need(count * width, `${field.name} column`);
  const view = reader.view;
  let offset = start;
  for (let i = 0; i < count; i++, offset += width) {
    let value: number;
    switch (storage) {
      case 'i8':
        value = view.getInt8(offset);
        break;
      case 'u8':
        value = view.getUint8(offset);
        if (kind === 'bool' && value > 1) throw new ByteFormatError(offset, `bool value ${value}`);
        break;
      case 'i16':
        value = view.getInt16(offset, true);
        break;
      case 'u16':
        value = view.getUint16(offset, true);
        break;
      case 'i32':
        value = view.getInt32(offset, true);
        break;
      case 'u32':
        value = view.getUint32(offset, true);
        break;
      case 'f32':
        value = view.getFloat32(offset, true);
        break;
      default:
        value = view.getFloat64(offset, true);
    }
    sink.value(fieldIndex, i, value);
  }
  reader.offset = offset;
}

function readSlot(reader: ByteReader): number {
  const slot = reader.varint();
  if (slot >= SLOT_COUNT_MAX) throw new ByteFormatError(reader.offset, `slot ${slot} out of range`);
  return slot;
}

/** Reads a count whose items each take at least `minBytesPerItem`, so it cannot exceed the input. */
function readCount(reader: ByteReader, minBytesPerItem: number, what: string): number {
  const count = reader.varint();
  if (count * minBytesPerItem > reader.remaining) {
    throw new ByteFormatError(reader.offset, `${what} ${count} exceeds the ${reader.remaining} remaining bytes`);
  }
  return count;
}
