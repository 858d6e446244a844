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

/**
 * DataViews over one table's typed-array columns, by field index. A column that grows is a new
 * array (table.ts), so each view remembers the column it was made for.
 */
interface ColumnViews {
  readonly columns: (NumericArray | undefined)[];
  readonly views: DataView[];
}

const NO_VIEW = new DataView(new ArrayBuffer(0));

class ApplySink implements WriteSetSink {
  private table: ComponentTable | undefined;
  private slots: Uint32Array = new Uint32Array(0);
  private rowCount = 0;
  private readonly viewsByTable: ColumnViews[];
  private tableViews: ColumnViews;

  constructor(private readonly world: World) {
    this.viewsByTable = world.tables.map((table) => ({
      columns: table.fields.map(() => undefined),
      views: table.fields.map(() => NO_VIEW),
    }));
    this.tableViews = this.viewsByTable[0] ?? { columns: [], views: [] }; // set by every upsert()
  }

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
    this.tableViews = this.viewsByTable[componentIndex];
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
   * Copies the rows' bytes into the column at their slots, skipping dead slots (see applyUpsert).
   * upsert() has given every live slot the component, so the column has room for it.
   */
  fixedWidthColumn(fieldIndex: number, source: DataView, start: number, rowSizeBytes: number): void {
    const target = this.columnView(fieldIndex);
    const slots = this.slots;
    const rowCount = this.rowCount;
    const alive = this.world.registry.alive;
    if (rowCount >= RUN_COPY_ROW_COUNT_MIN || rowSizeBytes % 4 !== 0) {
      copyRuns(target, source, start, rowSizeBytes, slots, rowCount, alive);
      return;
    }
    // A few rows of whole 32-bit words (a point commit): word by word, no loop over runs.
    for (let row = 0; row < rowCount; row++) {
      const slot = slots[row];
      if (alive[slot] !== 1) continue;
      const at = slot * rowSizeBytes;
      const from = start + row * rowSizeBytes;
      for (let k = 0; k < rowSizeBytes; k += 4) target.setInt32(at + k, source.getInt32(from + k, true), true);
    }
  }

  private columnView(fieldIndex: number): DataView {
    const column = this.table!.columnList[fieldIndex] as NumericArray;
    const cache = this.tableViews;
    if (cache.columns[fieldIndex] !== column) {
      cache.columns[fieldIndex] = column;
      cache.views[fieldIndex] = new DataView(column.buffer, column.byteOffset, column.byteLength);
    }
    return cache.views[fieldIndex];
  }
}

/** From this many rows on, an upsert's column is copied by runs of consecutive live slots. */
const RUN_COPY_ROW_COUNT_MIN = 16;

/** Copies rows at consecutive live slots (the runs form) in one piece each, skipping dead slots. */
function copyRuns(target: DataView, source: DataView, start: number, rowSizeBytes: number, slots: Uint32Array, rowCount: number, alive: Uint8Array): void {
  let row = 0;
  while (row < rowCount) {
    const first = slots[row];
    let end = row + 1;
    if (alive[first] === 1) {
      while (end < rowCount && slots[end] === first + (end - row) && alive[slots[end]] === 1) end++;
      copyBytes(target, first * rowSizeBytes, source, start + row * rowSizeBytes, (end - row) * rowSizeBytes);
    }
    row = end;
  }
}

/**
 * Copies `count` bytes between two views: up to 32 of them four at a time, which is cheaper than
 * making two byte arrays for a native copy; more in one native copy.
 */
function copyBytes(target: DataView, at: number, source: DataView, from: number, count: number): void {
  if (count > 32) {
    const bytes = new Uint8Array(source.buffer, source.byteOffset + from, count);
    new Uint8Array(target.buffer, target.byteOffset + at, count).set(bytes);
    return;
  }
  let i = 0;
  for (; i + 4 <= count; i += 4) target.setInt32(at + i, source.getInt32(from + i, true), true);
  for (; i < count; i++) target.setUint8(at + i, source.getUint8(from + i));
}
