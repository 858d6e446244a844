/**
 * The journal of the running transaction. Transactions write into the world directly (that is
 * what makes reads see their own writes at no cost); before a slot's lifecycle or a component
 * cell changes for the first time in a transaction, the journal records its before-image.
 *
 * From those first-touch records it can do the two things a transaction ends with:
 * - roll back: write every before-image back, so a throwing callback changes nothing;
 * - build the write set: the after-images of exactly the touched cells, net of whatever
 *   happened in between (an entity created and destroyed in one transaction leaves only its
 *   slot's new generation behind).
 *
 * Stamps (one per slot per table) mark first touches with the transaction's epoch, so a touch
 * costs one comparison after the first, and nothing is cleared between transactions.
 */
import { invariantFailed } from '../assert.js';
import type { Column, ComponentTable, FieldInfo } from '../world/table.js';
import { TYPED_ARRAY_OF, type NumericArray } from '../schema/types.js';
import type { World } from '../world/world.js';
import { addRow, addRun, clearRows, encodeTableUpsert, newRows, upsertFromTable, type ComponentChanges, type Rows, type SlotChanges, type Upsert, type WriteSet, type WriteSetSchema } from './write-set.js';
import type { ByteWriter } from '../encoding/bytes.js';

interface TableJournal {
  stamps: Uint32Array;
  /** Slots touched, in first-touch order: `touched[0 .. count)`. */
  touched: Uint32Array;
  count: number;
  /** Whether each touched slot had the component before the transaction. */
  hadBefore: Uint8Array;
  /**
   * Field values before the transaction, one array per field in the field's own storage (the
   * column's typed-array kind, `stride` values per touched slot; strings in a plain array), so
   * a run of consecutive slots is saved with one block copy and every value is kept exactly.
   */
  before: Column[];
  /** Union of the fields written by add/set in this transaction. */
  fieldMask: number;
  /** The epoch of the transaction that last touched the table. */
  epoch: number;
  /** Scratch for the write set's rows (removals, partial and whole upserts), reused by every commit. */
  removed: Rows;
  partial: Rows;
  full: Rows;
  /** Whether the table has anything to log in the write set being encoded. */
  changed: boolean;
}

/** The shape of a table's before-images. */
interface TableLayout {
  /** Every field is a numeric scalar (no strings, no arrays): one store per field saves a slot. */
  readonly scalarsOnly: boolean;
  readonly hasStrings: boolean;
}

/**
 * Runs of consecutive slots at least this long are journaled (and written by setColumns) with
 * block copies; shorter ones value by value, where a block copy's setup costs more.
 */
export const BLOCK_COPY_RUN_MIN = 16;

const EPOCH_MAX = 0xffff_fffe;

export class Journal {
  private epoch = 0;
  private slotStamps: Uint32Array = new Uint32Array(1024);
  /** Position of each stamped slot in `touchedSlots`. */
  private slotPositions: Uint32Array = new Uint32Array(1024);
  private readonly touchedSlots: number[] = [];
  private readonly generationBefore: number[] = [];
  private readonly aliveBefore: number[] = [];
  private highWaterBefore = 0;
  private readonly tables: TableJournal[];
  private readonly layouts: TableLayout[];
  /** Indices of the tables touched in this transaction, in first-touch order. */
  private readonly touchedTables: number[] = [];

  constructor(private readonly world: World) {
    this.layouts = world.tables.map(layoutOf);
    this.tables = world.tables.map((table) => ({
      stamps: new Uint32Array(1024),
      touched: new Uint32Array(64),
      count: 0,
      hadBefore: new Uint8Array(64),
      before: table.fields.map((field) => newBeforeColumn(field, 64)),
      fieldMask: 0,
      epoch: 0,
      removed: newRows(0),
      partial: newRows(0),
      full: newRows(0),
      changed: false,
    }));
  }

  begin(): void {
    if (this.epoch === EPOCH_MAX) {
      this.epoch = 0;
      this.slotStamps.fill(0);
      for (const journal of this.tables) {
        journal.stamps.fill(0);
        journal.epoch = 0;
      }
    }
    this.epoch++;
    this.highWaterBefore = this.world.registry.highWater;
  }

  /** Clears the records of the finished transaction (commit or rollback). */
  end(): void {
    if (this.touchedSlots.length > 0) {
      this.touchedSlots.length = 0;
      this.generationBefore.length = 0;
      this.aliveBefore.length = 0;
    }
    for (const index of this.touchedTables) {
      const journal = this.tables[index];
      journal.count = 0;
      // Let go of the strings the transaction saw (the numeric arrays are reused as they are).
      if (this.layouts[index].hasStrings) for (const column of journal.before) if (Array.isArray(column)) column.length = 0;
      journal.fieldMask = 0;
    }
    this.touchedTables.length = 0;
  }

  get isEmpty(): boolean {
    return this.touchedSlots.length === 0 && this.touchedTables.length === 0;
  }

  /**
   * Whether the transaction changed anything, i.e. whether its write set would be non-empty:
   * an entity born or dead, a component added or removed, or a field written. (`set(e, C, {})`
   * and an add followed by a remove of the same component touch cells but change nothing.)
   */
  hasNetChange(): boolean {
    const registry = this.world.registry;
    for (let i = 0; i < this.touchedSlots.length; i++) {
      const slot = this.touchedSlots[i];
      if (registry.generations[slot] !== this.generationBefore[i] || registry.alive[slot] !== this.aliveBefore[i]) return true;
    }
    for (const tableIndex of this.touchedTables) {
      const table = this.world.tables[tableIndex];
      const journal = this.tables[tableIndex];
      for (let i = 0; i < journal.count; i++) {
        const slot = journal.touched[i];
        if (registry.alive[slot] !== 1) continue;
        const hasNow = table.present[slot];
        if (hasNow !== journal.hadBefore[i]) return true;
        if (hasNow === 1 && journal.fieldMask !== 0) return true;
      }
    }
    return false;
  }

  /** Call before the slot's lifecycle (alive, generation) changes. */
  touchSlot(slot: number): void {
    if (slot >= this.slotStamps.length) {
      this.slotStamps = growStamps(this.slotStamps, slot + 1);
      this.slotPositions = growStamps(this.slotPositions, slot + 1);
    }
    if (this.slotStamps[slot] === this.epoch) return;
    this.slotStamps[slot] = this.epoch;
    this.world.dirtyChunks?.markSlot(slot);
    this.slotPositions[slot] = this.touchedSlots.length;
    const registry = this.world.registry;
    const used = slot < registry.highWater;
    this.touchedSlots.push(slot);
    this.generationBefore.push(used ? registry.generations[slot] : 0);
    this.aliveBefore.push(used ? registry.alive[slot] : 0);
  }

  /** Call before a component cell (membership or any field) changes; `fieldMask` is what is written. */
  touchCell(table: ComponentTable, slot: number, fieldMask: number): void {
    const journal = this.tables[table.index];
    if (journal.epoch !== this.epoch) {
      journal.epoch = this.epoch;
      this.touchedTables.push(table.index);
    }
    journal.fieldMask |= fieldMask;
    if (slot >= journal.stamps.length) journal.stamps = growStamps(journal.stamps, slot + 1);
    if (journal.stamps[slot] === this.epoch) return;
    journal.stamps[slot] = this.epoch;
    this.world.dirtyChunks?.markCell(table.index, slot);
    recordFirstTouch(table, this.layouts[table.index], journal, slot);
  }

  /**
   * `touchCell` for a slot that had the component when `set` checked it, inlined into the
   * generated fast path of `tx.set` for tables whose fields are all numeric scalars
   * (src/txn/fast-set.ts): JavaScript statements over the variables `journal` (this Journal),
   * `table`, `slot`, `mask` (the fields written) and `columns` (`table.columnList`). They make
   * the same records as `touchCell` and `recordFirstTouch`, the before-image one store per field,
   * and leave a slot or record count past the arrays to `touchCell` itself (which grows them).
   * The slot's `hadBefore` is 1 without looking: only the caller's getters run between `set`'s
   * check and here, and a getter that removed the component (or destroyed the entity) went
   * through `touchCell` for the slot, which is then stamped already and not recorded again.
   * Keep the two in step: test/txn/fast-set.test.ts compares them.
   */
  static scalarFirstTouchSource(fieldCount: number): string {
    const saves = Array.from({ length: fieldCount }, (_, f) => `before[${f}][index] = columns[${f}][slot];`).join(' ');
    return [
      'const log = journal.tables[table.index];',
      'const epoch = journal.epoch;',
      'if (log.epoch !== epoch) { log.epoch = epoch; journal.touchedTables.push(table.index); }',
      'log.fieldMask |= mask;',
      'const stamps = log.stamps;',
      'if (slot >= stamps.length) journal.touchCell(table, slot, mask);',
      'else if (stamps[slot] !== epoch) {',
      '  const index = log.count;',
      '  if (index >= log.touched.length) journal.touchCell(table, slot, mask);',
      '  else {',
      '    stamps[slot] = epoch;',
      '    journal.world.dirtyChunks?.markCell(table.index, slot);',
      '    log.count = index + 1;',
      '    log.touched[index] = slot;',
      '    log.hadBefore[index] = 1;',
      `    const before = log.before; ${saves}`,
      '  }',
      '}',
    ].join('\n');
  }

  /**
   * `touchCell` for each of `slots` with one `fieldMask` (the bulk write path): the same records
   * in the same order, with the per-table lookups done once. `runStarts` splits `slots` into
   * runs of consecutive slots: run r is `slots[runStarts[r] .. runStarts[r + 1])`, the last
   * entry is `slots.length`. A run none of whose slots was touched yet (the usual case: a game's
   * systems write blocks of entities, each once) is stamped, listed and saved with block
   * operations, its before-images one block copy per field.
   */
  touchCells(table: ComponentTable, slots: Uint32Array, runStarts: Uint32Array, fieldMask: number): void {
    if (slots.length === 0) return;
    this.touchCell(table, slots[0], fieldMask);
    const journal = this.tables[table.index];
    while (journal.touched.length < journal.count + slots.length) growTableJournal(table, journal);
    // Every slot given here has the component (setColumns checked it), so is below the capacity.
    if (journal.stamps.length < table.capacity) journal.stamps = growStamps(journal.stamps, table.capacity);
    // Short runs (scattered entities) are touched slot by slot; their records are contiguous
    // in the journal until a long run is appended, and are saved together, field by field.
    let shortFrom = -1;
    for (let r = 0; r + 1 < runStarts.length; r++) {
      const from = r === 0 ? 1 : runStarts[r]; // slots[0] was touched above
      const end = runStarts[r + 1];
      if (end - from >= BLOCK_COPY_RUN_MIN) {
        if (shortFrom !== -1) saveBeforeImagesByField(table, journal, shortFrom, journal.count);
        shortFrom = -1;
        this.touchRun(table, journal, slots, from, end);
        continue;
      }
      if (shortFrom === -1) shortFrom = journal.count;
      this.touchEach(table, journal, slots, from, end);
    }
    if (shortFrom !== -1) saveBeforeImagesByField(table, journal, shortFrom, journal.count);
  }

  /**
   * Stamps, marks and lists the slots of `slots[from .. end)` not touched yet (all of which
   * have the component); their before-images are left to the caller.
   */
  private touchEach(table: ComponentTable, journal: TableJournal, slots: Uint32Array, from: number, end: number): void {
    const epoch = this.epoch;
    const dirtyChunks = this.world.dirtyChunks;
    const stamps = journal.stamps;
    const present = table.present;
    const touched = journal.touched;
    const hadBefore = journal.hadBefore;
    let count = journal.count;
    for (let i = from; i < end; i++) {
      const slot = slots[i];
      if (stamps[slot] === epoch) continue;
      // The message is built only on failure: this loop runs once per entity of a bulk write.
      if (present[slot] !== 1) invariantFailed(`touchCells: slot ${slot} has no ${table.def.name}`);
      stamps[slot] = epoch;
      dirtyChunks?.markCell(table.index, slot);
      touched[count] = slot;
      hadBefore[count] = 1;
      count++;
    }
    journal.count = count;
  }

  /** `touchCells` for the long run `slots[from .. end)`, whose slots are consecutive. */
  private touchRun(table: ComponentTable, journal: TableJournal, slots: Uint32Array, from: number, end: number): void {
    const epoch = this.epoch;
    const stamps = journal.stamps;
    const present = table.present;
    const firstSlot = slots[from];
    const length = end - from;
    let fresh = true;
    for (let slot = firstSlot; slot < firstSlot + length; slot++) {
      if (stamps[slot] === epoch || present[slot] !== 1) {
        fresh = false;
        break;
      }
    }
    const dirtyChunks = this.world.dirtyChunks;
    if (fresh) {
      const index = journal.count;
      stamps.fill(epoch, firstSlot, firstSlot + length);
      journal.touched.set(slots.subarray(from, end), index);
      journal.hadBefore.fill(1, index, index + length);
      journal.count = index + length;
      if (dirtyChunks !== undefined) {
        // One mark per chunk the run reaches.
        for (let slot = firstSlot; slot < firstSlot + length; slot = (Math.floor(slot / dirtyChunks.chunkSlots) + 1) * dirtyChunks.chunkSlots) {
          dirtyChunks.markCell(table.index, slot);
        }
      }
      copyRunToJournal(table, journal, index, length);
      return;
    }
    // Some slot was touched before (the same entity twice in one transaction): slot by slot.
    const index = journal.count;
    this.touchEach(table, journal, slots, from, end);
    saveBeforeImagesByField(table, journal, index, journal.count);
  }

  /** Restores every before-image; the world is as it was at `begin`. */
  rollback(): void {
    const world = this.world;
    // Lifecycle first: slots that died come back (empty), slots that were born die again.
    for (let i = this.touchedSlots.length - 1; i >= 0; i--) {
      world.setSlotState(this.touchedSlots[i], this.generationBefore[i], this.aliveBefore[i] === 1);
    }
    world.registry.shrinkHighWater(this.highWaterBefore);
    for (const tableIndex of this.touchedTables) {
      const table = world.tables[tableIndex];
      const journal = this.tables[tableIndex];
      for (let i = 0; i < journal.count; i++) {
        const slot = journal.touched[i];
        if (journal.hadBefore[i] === 0) {
          world.removeComponentAt(table, slot);
          continue;
        }
        world.addComponentAt(table, slot);
        copyBeforeImage(table, journal, i, slot, false);
      }
    }
  }

  /** The after-images of everything touched, as a write set (see write-set.ts for the order). */
  buildWriteSet(): WriteSet {
    const slots = this.changedSlots();
    const components: ComponentChanges[] = [];
    for (const tableIndex of this.sortedTouchedTables()) {
      const table = this.world.tables[tableIndex];
      if (!this.classifyRows(table)) continue;
      const journal = this.tables[tableIndex];
      const { removed, partial, full } = journal;
      const upserts: Upsert[] = [];
      const columns = table.columnList as (ArrayLike<number> | string[])[];
      // Copy the values out now: the live table columns change with the next commit.
      if (hasPartialUpsert(journal)) upserts.push(upsertFromTable(columns, table.fields, journal.fieldMask, rowSlots(partial)));
      if (full.count > 0) upserts.push(upsertFromTable(columns, table.fields, table.fullFieldMask, rowSlots(full)));
      components.push({ componentIndex: tableIndex, removedSlots: Array.from(rowSlots(removed)), upserts });
    }
    return { slots, components };
  }

  /**
   * Encodes the write set straight from the journal and the table columns (the commit path):
   * the same bytes as `encodeWriteSet(buildWriteSet())`, with no object or array built per
   * commit (the rows live in the journal's scratch) and each run of numeric values copied as
   * one block.
   */
  encodeWriteSetInto(writer: ByteWriter, schema: WriteSetSchema): void {
    const registry = this.world.registry;
    const touchedSlots = this.touchedSlots;
    let changedSlotCount = 0;
    for (let i = 0; i < touchedSlots.length; i++) if (this.lifecycleChangedAt(i)) changedSlotCount++;
    writer.varint(changedSlotCount);
    for (let i = 0; i < touchedSlots.length; i++) {
      if (!this.lifecycleChangedAt(i)) continue;
      const slot = touchedSlots[i];
      writer.varint(slot);
      writer.varint(registry.generations[slot] * 2 + registry.alive[slot]);
    }
    // Each table's rows go to its own scratch, so all can be classified before the count.
    const tableIndices = this.sortedTouchedTables();
    let componentCount = 0;
    for (const tableIndex of tableIndices) {
      const changed = this.classifyRows(this.world.tables[tableIndex]);
      this.tables[tableIndex].changed = changed;
      if (changed) componentCount++;
    }
    writer.varint(componentCount);
    for (const tableIndex of tableIndices) {
      const journal = this.tables[tableIndex];
      if (!journal.changed) continue;
      const table = this.world.tables[tableIndex];
      const columns = table.columnList as (ArrayLike<number> | string[])[];
      const fields = schema[tableIndex];
      const { removed, partial, full } = journal;
      writer.varint(tableIndex);
      writer.varint(removed.count);
      for (let i = 0; i < removed.count; i++) writer.varint(removed.slots[i]);
      const partialUpsert = hasPartialUpsert(journal);
      writer.varint((partialUpsert ? 1 : 0) + (full.count > 0 ? 1 : 0));
      if (partialUpsert) encodeTableUpsert(writer, fields, columns, journal.fieldMask, partial);
      if (full.count > 0) encodeTableUpsert(writer, fields, columns, table.fullFieldMask, full);
    }
  }

  /** The slot states of the write set: every touched slot whose lifecycle changed. */
  private changedSlots(): SlotChanges {
    const registry = this.world.registry;
    const changes: SlotChanges = { slots: [], generations: [], alive: [] };
    for (let i = 0; i < this.touchedSlots.length; i++) {
      if (!this.lifecycleChangedAt(i)) continue;
      const slot = this.touchedSlots[i];
      changes.slots.push(slot);
      changes.generations.push(registry.generations[slot]);
      changes.alive.push(registry.alive[slot]);
    }
    return changes;
  }

  /** Whether the i-th touched slot was born, died or was reused in this transaction. */
  private lifecycleChangedAt(i: number): boolean {
    const registry = this.world.registry;
    const slot = this.touchedSlots[i];
    return registry.generations[slot] !== this.generationBefore[i] || registry.alive[slot] !== this.aliveBefore[i];
  }

  /** The touched tables in component order (the write set's order), sorted in place. */
  private sortedTouchedTables(): number[] {
    if (this.touchedTables.length > 1) this.touchedTables.sort((a, b) => a - b);
    return this.touchedTables;
  }

  /**
   * Sorts the table's touched cells into the journal's row scratch: removals, cells written
   * partially (the union of the masks written) and cells written whole. Returns whether the
   * table has anything to log. The rows stay valid until the next call for this table.
   */
  private classifyRows(table: ComponentTable): boolean {
    const journal = this.tables[table.index];
    const count = journal.count;
    const { removed, partial, full } = journal;
    clearRows(removed);
    clearRows(partial);
    clearRows(full);
    if (count === 0) return false;
    if (full.slots.length < count) {
      journal.removed = newRows(journal.touched.length);
      journal.partial = newRows(journal.touched.length);
      journal.full = newRows(journal.touched.length);
      return this.classifyRows(table);
    }
    const alive = this.world.registry.alive;
    const present = table.present;
    const touched = journal.touched;
    const hadBefore = journal.hadBefore;
    const partialMask = journal.fieldMask;
    // Cells present before and after whose fields were all written are written whole; those
    // whose fields were not written at all (mask 0) did not change.
    const partialIsFull = partialMask !== 0 && partialMask === table.fullFieldMask;
    const lifecycleChanges = this.touchedSlots.length > 0;
    const written = partialIsFull ? full : partial;
    let i = 0;
    while (i < count) {
      if (!lifecycleChanges) {
        // The usual case of a write of many entities: a stretch of consecutive slots, each
        // alive, with the component before and after. All of it goes to one row list as a run.
        // (With no lifecycle change every touched slot is alive; the check is a guard.)
        const first = touched[i];
        let end = i;
        while (end < count && touched[end] === first + (end - i) && alive[touched[end]] === 1 && present[touched[end]] === 1 && hadBefore[end] === 1) end++;
        if (end > i) {
          addRun(written, first, end - i);
          i = end;
          continue;
        }
      }
      const index = i++;
      const slot = touched[index];
      // A dead slot, or one whose lifecycle changed, lost all its components when the slot
      // state was applied: only what it has now needs writing, and all of it.
      if (alive[slot] !== 1) continue;
      const reborn = lifecycleChanges && slot < this.slotStamps.length && this.slotStamps[slot] === this.epoch && this.lifecycleChanged(slot);
      if (present[slot] !== 1) {
        if (hadBefore[index] === 1 && !reborn) addRow(removed, slot);
      } else {
        addRow(reborn || hadBefore[index] === 0 ? full : written, slot);
      }
    }
    return removed.count > 0 || hasPartialUpsert(journal) || full.count > 0;
  }

  private lifecycleChanged(slot: number): boolean {
    const index = this.slotPositions[slot];
    if (this.touchedSlots[index] !== slot) invariantFailed(`stamped slot ${slot} missing from the journal`);
    const registry = this.world.registry;
    return registry.generations[slot] !== this.generationBefore[index] || registry.alive[slot] !== this.aliveBefore[index];
  }
}

/** Appends a slot's first touch of a table: its place, whether it had the component, its values. */
function recordFirstTouch(table: ComponentTable, layout: TableLayout, journal: TableJournal, slot: number): void {
  const index = journal.count++;
  if (index >= journal.touched.length) growTableJournal(table, journal);
  journal.touched[index] = slot;
  const had = slot < table.capacity && table.present[slot] === 1;
  journal.hadBefore[index] = had ? 1 : 0;
  if (!had) return;
  if (layout.scalarsOnly) {
    // The common shape (Position, Velocity, Health...): one store per field, no kind checks.
    const before = journal.before as NumericArray[];
    const columns = table.columnList as NumericArray[];
    for (let f = 0; f < columns.length; f++) before[f][index] = columns[f][slot];
    return;
  }
  copyBeforeImage(table, journal, index, slot, true);
}

/** Cells written partially make an upsert only if some field was written (mask 0 is no change). */
function hasPartialUpsert(journal: TableJournal): boolean {
  return journal.partial.count > 0 && journal.fieldMask !== 0;
}

function rowSlots(rows: Rows): Uint32Array {
  return rows.slots.subarray(0, rows.count);
}

function layoutOf(table: ComponentTable): TableLayout {
  return {
    scalarsOnly: table.fields.every((field) => field.storage !== undefined && field.stride === 1),
    hasStrings: table.fields.some((field) => field.storage === undefined),
  };
}

/** An empty before-image array for `capacity` touched slots, of the field's own storage. */
function newBeforeColumn(field: FieldInfo, capacity: number): Column {
  if (field.storage === undefined) return [];
  return new TYPED_ARRAY_OF[field.storage](capacity * field.stride);
}

/**
 * Copies a touched slot's field values between the table and the journal's before-image:
 * `toJournal` saves them (first touch), otherwise they are written back (rollback).
 */
function copyBeforeImage(table: ComponentTable, journal: TableJournal, index: number, slot: number, toJournal: boolean): void {
  const fields = table.fields;
  for (let f = 0; f < fields.length; f++) {
    const stride = fields[f].stride;
    const column = table.columnList[f];
    const before = journal.before[f];
    if (Array.isArray(column)) {
      if (toJournal) (before as string[])[index] = column[slot];
      else column[slot] = (before as string[])[index];
    } else if (stride === 1) {
      if (toJournal) (before as NumericArray)[index] = column[slot];
      else column[slot] = (before as NumericArray)[index];
    } else if (toJournal) {
      (before as NumericArray).set(column.subarray(slot * stride, slot * stride + stride), index * stride);
    } else {
      column.set((before as NumericArray).subarray(index * stride, index * stride + stride), slot * stride);
    }
  }
}

/**
 * Saves the before-images of touched records [from, to), all of which had the component (the
 * bulk write path's short runs): field by field, a tight loop per column.
 */
function saveBeforeImagesByField(table: ComponentTable, journal: TableJournal, from: number, to: number): void {
  const touched = journal.touched;
  const fields = table.fields;
  for (let f = 0; f < fields.length; f++) {
    const column = table.columnList[f];
    const before = journal.before[f];
    if (Array.isArray(column)) {
      for (let index = from; index < to; index++) (before as string[])[index] = column[touched[index]];
      continue;
    }
    const numbers = before as NumericArray;
    const stride = fields[f].stride;
    if (stride === 1) {
      for (let index = from; index < to; index++) numbers[index] = column[touched[index]];
      continue;
    }
    for (let index = from; index < to; index++) {
      const at = touched[index] * stride;
      for (let k = 0; k < stride; k++) numbers[index * stride + k] = column[at + k];
    }
  }
}

/** Saves the before-images of `length` touched records from `index`, whose slots are consecutive. */
function copyRunToJournal(table: ComponentTable, journal: TableJournal, index: number, length: number): void {
  const firstSlot = journal.touched[index];
  const fields = table.fields;
  for (let f = 0; f < fields.length; f++) {
    const column = table.columnList[f];
    const before = journal.before[f];
    if (Array.isArray(column)) {
      for (let k = 0; k < length; k++) (before as string[])[index + k] = column[firstSlot + k];
      continue;
    }
    const stride = fields[f].stride;
    (before as NumericArray).set(column.subarray(firstSlot * stride, (firstSlot + length) * stride), index * stride);
  }
}

function growTableJournal(table: ComponentTable, journal: TableJournal): void {
  const capacity = journal.touched.length * 2;
  const touched = new Uint32Array(capacity);
  touched.set(journal.touched);
  journal.touched = touched;
  const hadBefore = new Uint8Array(capacity);
  hadBefore.set(journal.hadBefore);
  journal.hadBefore = hadBefore;
  journal.before = journal.before.map((old, f) => {
    if (Array.isArray(old)) return old;
    const grown = newBeforeColumn(table.fields[f], capacity) as NumericArray;
    grown.set(old);
    return grown;
  });
}

function growStamps(stamps: Uint32Array, needed: number): Uint32Array<ArrayBuffer> {
  let capacity = stamps.length * 2;
  while (capacity < needed) capacity *= 2;
  const grown = new Uint32Array(capacity);
  grown.set(stamps);
  return grown;
}
