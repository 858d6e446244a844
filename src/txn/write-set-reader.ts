/**
 * The one reader of the write-set byte layout (see write-set.ts for the layout). It walks an
 * encoded write set and reports what it finds to a sink, so the same bounds-checked parsing
 * serves both decoding into objects (tests, tools) and replay straight into a world without
 * allocating anything per record (recovery, where it runs millions of times).
 *
 * Every count is checked against the remaining bytes before anything is sized by it, and every
 * index against the schema, so damaged input raises a ByteFormatError at its offset.
 *
 * What the reader needs to know of each field (its width, the fewest bytes a row can take) is
 * worked out once per schema into a WriteSetLayout, not once per record: replay reads a million
 * small records a second, and per record the layout lookups were a large share of the time.
 */
import { ByteFormatError, ByteReader, LITTLE_ENDIAN_HOST } from '../encoding/bytes.js';
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
  /**
   * Optional, instead of `value` for a fixed-width field (numbers, bools and arrays of numbers):
   * the current upsert's values of field `fieldIndex`, row after row, `rowSizeBytes` bytes a row,
   * start at byte `start` of `source`, already checked (a bool is 0 or 1). Called only on a
   * little-endian machine, where these are exactly the bytes the field's typed-array column holds.
   */
  fixedWidthColumn?(fieldIndex: number, source: DataView, start: number, rowSizeBytes: number): void;
}

/** The low bit of an upsert's row header: how its slots are written (write-set.ts). */
export const ROWS_LISTED = 0;
export const ROWS_AS_RUNS = 1;

/** Bytes of one value of each fixed-width kind in the write-set layout. */
export const WIDTH_OF = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4, f64: 8 } as const;

/** Whether a field's values are fixed-width (numbers, bools, arrays of them), not varint-led. */
export function isFixedWidth(field: FieldInfo): boolean {
  return field.storage !== undefined && field.type.kind !== 'entity';
}

/** A field as the reader sees it. */
interface FieldLayout {
  readonly info: FieldInfo;
  readonly index: number;
  /** How its values are written: a varint-led string, a varint entity id, or fixed-width. */
  readonly form: 'string' | 'entity' | 'fixed';
  readonly isBool: boolean;
  /** Bytes of one row's value when fixed-width (stride elements); else the fewest, 1. */
  readonly rowSizeBytes: number;
}

/** A component as the reader sees it. */
interface ComponentLayout {
  readonly fields: readonly FieldLayout[];
  /** The largest valid field mask: every field written. */
  readonly fieldMaskMax: number;
  /** The fewest bytes one row's values take, by field mask (for up to MASKS_TABULATED_FIELDS fields). */
  readonly rowSizeBytesMinByMask: Int32Array | undefined;
}

/** A schema prepared for reading (writeSetLayoutOf). */
export type WriteSetLayout = readonly ComponentLayout[];

/** Components with at most this many fields get a table of row sizes by mask (256 entries). */
const MASKS_TABULATED_FIELDS = 8;

const layoutOfFields = new WeakMap<readonly FieldInfo[], ComponentLayout>();

/** The schema prepared for reading; each component's part is made once and shared. */
export function writeSetLayoutOf(schema: WriteSetSchema): WriteSetLayout {
  return schema.map((fields) => {
    let layout = layoutOfFields.get(fields);
    if (layout === undefined) {
      layout = componentLayout(fields);
      layoutOfFields.set(fields, layout);
    }
    return layout;
  });
}

function componentLayout(infos: readonly FieldInfo[]): ComponentLayout {
  const fields = infos.map((info): FieldLayout => {
    const form = isFixedWidth(info) ? 'fixed' : info.storage === undefined ? 'string' : 'entity';
    const rowSizeBytes = form === 'fixed' ? WIDTH_OF[info.storage!] * info.stride : 1;
    return { info, index: info.index, form, isBool: info.type.kind === 'bool', rowSizeBytes };
  });
  const fieldMaskMax = 2 ** fields.length - 1;
  let rowSizeBytesMinByMask: Int32Array | undefined;
  if (fields.length <= MASKS_TABULATED_FIELDS) {
    rowSizeBytesMinByMask = new Int32Array(fieldMaskMax + 1);
    for (let mask = 0; mask <= fieldMaskMax; mask++) rowSizeBytesMinByMask[mask] = sumRowSizes(fields, mask);
  }
  return { fields, fieldMaskMax, rowSizeBytesMinByMask };
}

/** The fewest bytes one row's values of the masked fields can take. */
function sumRowSizes(fields: readonly FieldLayout[], fieldMask: number): number {
  let bytes = 0;
  for (let f = 0; f < fields.length; f++) if ((fieldMask & (1 << f)) !== 0) bytes += fields[f].rowSizeBytes;
  return bytes;
}

let scratchSlots = new Uint32Array(1024);

export function readWriteSet(bytes: Uint8Array, schema: WriteSetSchema, sink: WriteSetSink): void {
  readWriteSetFrom(new ByteReader(bytes), writeSetLayoutOf(schema), sink);
}

/** Reads the write set in `reader`'s bytes from its offset to its end (replay reuses one reader). */
export function readWriteSetFrom(reader: ByteReader, layout: WriteSetLayout, sink: WriteSetSink): void {
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
    if (componentIndex >= layout.length) {
      throw new ByteFormatError(reader.offset, `component index ${componentIndex} is not in the schema (${layout.length} components)`);
    }
    sink.component(componentIndex);
    const removedCount = readCount(reader, 1, 'removed count');
    for (let r = 0; r < removedCount; r++) sink.removed(componentIndex, readSlot(reader));
    const upsertCount = readCount(reader, 2, 'upsert count');
    for (let u = 0; u < upsertCount; u++) readUpsert(reader, componentIndex, layout[componentIndex], sink);
  }
  if (reader.remaining !== 0) throw new ByteFormatError(reader.offset, `${reader.remaining} trailing bytes`);
}

function readUpsert(reader: ByteReader, componentIndex: number, component: ComponentLayout, sink: WriteSetSink): void {
  const fieldMask = reader.varint();
  const fields = component.fields;
  if (fieldMask > component.fieldMaskMax) {
    throw new ByteFormatError(reader.offset, `field mask ${fieldMask} names fields beyond the component's ${fields.length}`);
  }
  const rowHeader = reader.varint();
  // Checked first so that the row count is a small integer: offsets computed from it must stay
  // small integers too, or the reader's offset field would turn into a boxed double for good.
  if (rowHeader > 2 * SLOT_COUNT_MAX + 1) throw rowCountProblem(reader, Math.floor(rowHeader / 2));
  const rowCount = rowHeader >>> 1;
  const asRuns = (rowHeader & 1) === ROWS_AS_RUNS;
  // Before anything is sized by rowCount: the values alone take at least this many bytes a row,
  // and a listed slot at least one more.
  const byMask = component.rowSizeBytesMinByMask;
  const valueBytesPerRow = byMask !== undefined ? byMask[fieldMask] : sumRowSizes(fields, fieldMask);
  // Runs cost a few bytes for any number of rows, so only values can bound the rows by the
  // record's size: a runs-form upsert without fields (a tag) could name 2^24 rows in 11 bytes,
  // and a record of many such upserts would make replay loop for hours. The writer lists the
  // rows of an upsert without fields.
  if (asRuns && valueBytesPerRow === 0) throw new ByteFormatError(reader.offset, 'rows as runs in an upsert that writes no field');
  const minBytesPerRow = valueBytesPerRow + (asRuns ? 0 : 1);
  if (rowCount * minBytesPerRow > reader.remaining) throw rowCountProblem(reader, rowCount);
  if (scratchSlots.length < rowCount) scratchSlots = new Uint32Array(Math.max(rowCount, scratchSlots.length * 2));
  const slots = scratchSlots;
  if (asRuns) readRuns(reader, slots, rowCount);
  else for (let i = 0; i < rowCount; i++) slots[i] = readSlot(reader);
  sink.upsert(componentIndex, fieldMask, slots, rowCount);
  for (let rest = fieldMask, f = 0; rest !== 0; rest >>>= 1, f++) {
    if ((rest & 1) !== 0) readColumn(reader, fields[f], rowCount, sink);
  }
}

function rowCountProblem(reader: ByteReader, rowCount: number): ByteFormatError {
  return new ByteFormatError(reader.offset, `row count ${rowCount} exceeds what the ${reader.remaining} remaining bytes can hold`);
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

function readColumn(reader: ByteReader, field: FieldLayout, rowCount: number, sink: WriteSetSink): void {
  const fieldIndex = field.index;
  if (field.form === 'string') {
    reader.need(rowCount, 'string column');
    for (let i = 0; i < rowCount; i++) sink.value(fieldIndex, i, reader.string());
    return;
  }
  if (field.form === 'entity') {
    reader.need(rowCount, 'entity column');
    for (let i = 0; i < rowCount; i++) {
      const stored = reader.varint();
      sink.value(fieldIndex, i, stored === 0 ? NULL_ENTITY : stored - 1);
    }
    return;
  }
  const start = reader.offset;
  const end = start + rowCount * field.rowSizeBytes;
  // The message is built only on failure: a template argument to need() would be built per column.
  if (end > reader.end) reader.need(end - start, `${field.info.name} column`);
  const bytes = reader.bytes;
  if (field.isBool) {
    for (let offset = start; offset < end; offset++) {
      if (bytes[offset] > 1) throw new ByteFormatError(offset, `bool value ${bytes[offset]}`);
    }
  }
  if (LITTLE_ENDIAN_HOST && sink.fixedWidthColumn !== undefined) sink.fixedWidthColumn(fieldIndex, reader.view, start, field.rowSizeBytes);
  else readValues(reader.view, start, rowCount * field.info.stride, field.info, sink);
  reader.offset = end;
}

/** Reports `count` fixed-width values at `start` one by one (checked by readColumn first). */
function readValues(view: DataView, start: number, count: number, field: FieldInfo, sink: WriteSetSink): void {
  const storage = field.storage!;
  const width = WIDTH_OF[storage];
  let offset = start;
  for (let i = 0; i < count; i++, offset += width) {
    let value: number;
    switch (storage) {
      case 'i8':
        value = view.getInt8(offset);
        break;
      case 'u8':
        value = view.getUint8(offset);
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
    sink.value(field.index, i, value);
  }
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
