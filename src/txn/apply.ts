/**
 * Applies a write set to a world, physically and idempotently, in the order the format defines:
 * slot states, then per component removals, then upserts. Used by replay (WAL, and later
 * snapshot catch-up); never fires observers and never validates values, because a write set was
 * validated when its transaction ran and was checksummed when it was read back.
 */
import { assert } from '../assert.js';
import type { World } from '../world/world.js';
import { writeField, type ComponentTable } from '../world/table.js';
import { fieldsOfMask, type ChangeColumn, type Upsert, type WriteSet, type WriteSetSchema } from './write-set.js';
import { readWriteSetFrom, writeSetLayoutOf, type WriteSetLayout, type WriteSetSink } from './write-set-reader.js';
import type { NumericArray } from '../schema/types.js';
import type { ByteReader } from '../encoding/bytes.js';

export function applyWriteSet(world: World, writeSet: WriteSet): void {
  const { slots, generations, alive } = writeSet.slots;
  for (let i = 0; i < slots.length; i++) applySlotState(world, slots[i], generations[i], alive[i] === 1);
  for (const change of writeSet.components) {
    const table = world.tables[change.componentIndex];
    assert(table !== undefined, `write set names component ${change.componentIndex}, not in the schema`);
    for (const slot of change.removedSlots) world.removeComponentAt(table, slot);
    for (const upsert of change.upserts) applyUpsert(world, table, upsert);
  }
}

/**
 * A slot state in a write set means its entity was born or died in that transaction, so the slot
 * starts over empty even when it already holds that generation: that happens when a write set is
 * replayed over a newer state (a fuzzy snapshot), where the slot may carry components of a later
 * transaction that this record's upserts do not mention. The upserts then write everything the
 * entity had at commit.
 */
function applySlotState(world: World, slot: number, generation: number, alive: boolean): void {
  const registry = world.registry;
  if (alive && slot < registry.highWater && registry.alive[slot] === 1 && registry.generations[slot] === generation) {
    world.kill(slot, generation);
  }
  world.setSlotState(slot, generation, alive);
}

function applyUpsert(world: World, table: ComponentTable, upsert: Upsert): void {
  const fieldIndices = fieldsOfMask(upsert.fieldMask);
  const row: unknown[] = [];
  for (let r = 0; r < upsert.slots.length; r++) {
    const slot = upsert.slots[r];
    // Replayed over a newer state, the entity may have died since; the later record of its death
    // follows in the replay, so the write is moot. In order, a commit never upserts a dead slot.
    if (world.registry.alive[slot] !== 1) continue;
    world.addComponentAt(table, slot);
    for (let c = 0; c < fieldIndices.length; c++) {
      const field = table.fields[fieldIndices[c]];
      writeField(table, field.index, slot, valueAt(upsert.columns[c], r, field.stride, field.type.kind, row));
    }
  }
}

function valueAt(column: ChangeColumn, row: number, stride: number, kind: string, scratch: unknown[]): unknown {
  if (kind === 'array') {
    scratch.length = stride;
    for (let i = 0; i < stride; i++) scratch[i] = column[row * stride + i];
    return scratch;
  }
  if (kind === 'entity') return column[row] === -1 ? null : column[row];
  return column[row];
}

/**
 * Applies an encoded write set (the bytes of `reader` from its offset to its end) directly, with the same semantics as
 * `applyWriteSet(world, decodeWriteSet(bytes))` but without building any object per record.
 * Replay keeps one EncodedWriteSetApplier instead (recovery/recover-wal.ts).
 */
export function applyEncodedWriteSet(world: World, reader: ByteReader, schema: WriteSetSchema): void {
  let applier = appliers.get(world);
  if (applier === undefined || applier.schema !== schema) {
    applier = new EncodedWriteSetApplier(world, schema);
    appliers.set(world, applier);
  }
  applier.apply(reader);
}

const appliers = new WeakMap<World, EncodedWriteSetApplier>();

/**
 * The replay path of recovery: applies encoded write sets of one schema to one world, millions
 * of times, without allocating anything per record.
 */
export class EncodedWriteSetApplier {
  readonly #layout: WriteSetLayout;
  readonly #sink: ApplySink;

  constructor(
    world: World,
    readonly schema: WriteSetSchema = world.tables.map((table) => table.fields),
  ) {
    this.#layout = writeSetLayoutOf(schema);
    this.#sink = new ApplySink(world);
  }

  /** Applies the write set in `reader`'s bytes from its offset to its end. */
  apply(reader: ByteReader): void {
    readWriteSetFrom(reader, this.#layout, this.#sink);
  }
}

/** Bytes a table column holds, viewed as bytes (a grown column is a new array: see viewOf). */
interface ColumnBytes {
  column: NumericArray | undefined;
  bytes: Uint8Array;
}

class ApplySink implements WriteSetSink {
  private table: ComponentTable | undefined;
  private slots: Uint32Array = new Uint32Array(0);
  private rowCount = 0;
  /** By table index * 32 + field index (at most 31 fields). */
  private readonly columnBytes: ColumnBytes[] = [];

  constructor(private readonly world: World) {}

  component(): void {}

  slotState(slot: number, generation: number, alive: boolean): void {
    applySlotState(this.world, slot, generation, alive);
  }

  removed(componentIndex: number, slot: number): void {
    this.world.removeComponentAt(this.world.tables[componentIndex], slot);
  }

  upsert(componentIndex: number, _fieldMask: number, slots: Uint32Array, rowCount: number): void {
    const world = this.world;
    const table = world.tables[componentIndex];
    this.table = table;
    this.slots = slots;
    this.rowCount = rowCount;
    const alive = world.registry.alive;
    for (let r = 0; r < rowCount; r++) {
      // See applyUpsert: a dead slot only occurs over a newer state, and its write is moot.
      if (alive[slots[r]] === 1) world.addComponentAt(table, slots[r]);
    }
  }

  value(fieldIndex: number, index: number, value: number | string): void {
    const table = this.table!;
    const stride = table.fields[fieldIndex].stride;
    const row = stride === 1 ? index : Math.floor(index / stride);
    const slot = this.slots[row];
    if (this.world.registry.alive[slot] !== 1) return;
    const column = table.columnList[fieldIndex];
    if (stride === 1) column[slot] = value as never;
    else column[slot * stride + (index - row * stride)] = value as never;
  }

  /**
   * Copies the rows' bytes into the column at their slots, skipping dead slots (see applyUpsert);
   * rows at consecutive live slots (the runs form) are copied in one piece.
   */
  fixedWidthColumn(fieldIndex: number, bytes: Uint8Array, start: number, rowSizeBytes: number): void {
    const target = this.columnBytesOf(this.table!, fieldIndex);
    const slots = this.slots;
    const rowCount = this.rowCount;
    const alive = this.world.registry.alive;
    let row = 0;
    while (row < rowCount) {
      const first = slots[row];
      if (alive[first] !== 1) {
        row++;
        continue;
      }
      let end = row + 1;
      while (end < rowCount && slots[end] === first + (end - row) && alive[slots[end]] === 1) end++;
      copyBytes(target, first * rowSizeBytes, bytes, start + row * rowSizeBytes, (end - row) * rowSizeBytes);
      row = end;
    }
  }

  private columnBytesOf(table: ComponentTable, fieldIndex: number): Uint8Array {
    const column = table.columnList[fieldIndex] as NumericArray;
    const key = table.index * 32 + fieldIndex;
    let entry = this.columnBytes[key];
    if (entry === undefined) {
      entry = { column: undefined, bytes: new Uint8Array(0) };
      this.columnBytes[key] = entry;
    }
    if (entry.column !== column) {
      entry.column = column;
      entry.bytes = new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
    }
    return entry.bytes;
  }
}

/** Short copies byte by byte: cheaper than a subarray and a native call. */
function copyBytes(target: Uint8Array, at: number, source: Uint8Array, from: number, count: number): void {
  if (count > 64) {
    target.set(source.subarray(from, from + count), at);
    return;
  }
  for (let i = 0; i < count; i++) target[at + i] = source[from + i];
}
