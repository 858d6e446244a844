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
import { assert } from '../assert.js';
import { readField, writeField, type ComponentTable } from '../world/table.js';
import type { World } from '../world/world.js';
import { fieldsOfMask, type ChangeColumn, type ComponentChanges, type Upsert, type WriteSet } from './write-set.js';

interface TableJournal {
  stamps: Uint32Array;
  /** Slots touched, in first-touch order. */
  touched: number[];
  /** Whether each touched slot had the component before the transaction. */
  hadBefore: number[];
  /** Before-images, `fieldCount` per touched slot (undefined where the component was absent). */
  before: unknown[];
  /** Union of the fields written by add/set in this transaction. */
  fieldMask: number;
}

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

  constructor(private readonly world: World) {
    this.tables = world.tables.map(() => ({
      stamps: new Uint32Array(1024),
      touched: [],
      hadBefore: [],
      before: [],
      fieldMask: 0,
    }));
  }

  begin(): void {
    if (this.epoch === EPOCH_MAX) {
      this.epoch = 0;
      this.slotStamps.fill(0);
      for (const journal of this.tables) journal.stamps.fill(0);
    }
    this.epoch++;
    this.highWaterBefore = this.world.registry.highWater;
  }

  /** Clears the records of the finished transaction (commit or rollback). */
  end(): void {
    this.touchedSlots.length = 0;
    this.generationBefore.length = 0;
    this.aliveBefore.length = 0;
    for (const journal of this.tables) {
      journal.touched.length = 0;
      journal.hadBefore.length = 0;
      journal.before.length = 0;
      journal.fieldMask = 0;
    }
  }

  get isEmpty(): boolean {
    return this.touchedSlots.length === 0 && this.tables.every((journal) => journal.touched.length === 0);
  }

  /** Call before the slot's lifecycle (alive, generation) changes. */
  touchSlot(slot: number): void {
    if (slot >= this.slotStamps.length) {
      this.slotStamps = growStamps(this.slotStamps, slot + 1);
      this.slotPositions = growStamps(this.slotPositions, slot + 1);
    }
    if (this.slotStamps[slot] === this.epoch) return;
    this.slotStamps[slot] = this.epoch;
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
    journal.fieldMask |= fieldMask;
    if (slot >= journal.stamps.length) journal.stamps = growStamps(journal.stamps, slot + 1);
    if (journal.stamps[slot] === this.epoch) return;
    journal.stamps[slot] = this.epoch;
    journal.touched.push(slot);
    const had = slot < table.capacity && table.present[slot] === 1;
    journal.hadBefore.push(had ? 1 : 0);
    for (const field of table.fields) journal.before.push(had ? readField(table, field.index, slot) : undefined);
  }

  /** Restores every before-image; the world is as it was at `begin`. */
  rollback(): void {
    const world = this.world;
    // Lifecycle first: slots that died come back (empty), slots that were born die again.
    for (let i = this.touchedSlots.length - 1; i >= 0; i--) {
      world.setSlotState(this.touchedSlots[i], this.generationBefore[i], this.aliveBefore[i] === 1);
    }
    world.registry.shrinkHighWater(this.highWaterBefore);
    for (const table of world.tables) {
      const journal = this.tables[table.index];
      const fieldCount = table.fields.length;
      for (let i = 0; i < journal.touched.length; i++) {
        const slot = journal.touched[i];
        if (journal.hadBefore[i] === 0) {
          world.removeComponentAt(table, slot);
          continue;
        }
        world.addComponentAt(table, slot);
        for (let f = 0; f < fieldCount; f++) writeField(table, f, slot, journal.before[i * fieldCount + f]);
      }
    }
  }

  /** The after-images of everything touched, as a write set (see write-set.ts for the order). */
  buildWriteSet(): WriteSet {
    const registry = this.world.registry;
    const slots: number[] = [];
    const generations: number[] = [];
    const alive: number[] = [];
    for (let i = 0; i < this.touchedSlots.length; i++) {
      const slot = this.touchedSlots[i];
      const generation = registry.generations[slot];
      const isAlive = registry.alive[slot];
      if (generation === this.generationBefore[i] && isAlive === this.aliveBefore[i]) continue;
      slots.push(slot);
      generations.push(generation);
      alive.push(isAlive);
    }
    const components: ComponentChanges[] = [];
    for (const table of this.world.tables) {
      const change = this.buildComponentChanges(table);
      if (change !== undefined) components.push(change);
    }
    return { slots: { slots, generations, alive }, components };
  }

  private buildComponentChanges(table: ComponentTable): ComponentChanges | undefined {
    const journal = this.tables[table.index];
    if (journal.touched.length === 0) return undefined;
    const registry = this.world.registry;
    const removedSlots: number[] = [];
    const fullSlots: number[] = [];
    const partialSlots: number[] = [];
    for (let i = 0; i < journal.touched.length; i++) {
      const slot = journal.touched[i];
      // A dead slot, or one whose lifecycle changed, lost all its components when the slot
      // state was applied: only what it has now needs writing, and all of it.
      if (registry.alive[slot] !== 1) continue;
      const reborn = slot < this.slotStamps.length && this.slotStamps[slot] === this.epoch && this.lifecycleChanged(slot);
      const hasNow = table.present[slot] === 1;
      if (!hasNow) {
        if (journal.hadBefore[i] === 1 && !reborn) removedSlots.push(slot);
      } else if (reborn || journal.hadBefore[i] === 0) {
        fullSlots.push(slot);
      } else {
        partialSlots.push(slot);
      }
    }
    const upserts: Upsert[] = [];
    const partialMask = journal.fieldMask;
    if (partialMask === table.fullFieldMask) {
      fullSlots.push(...partialSlots);
    } else if (partialSlots.length > 0 && partialMask !== 0) {
      upserts.push(upsertOf(table, partialMask, partialSlots));
    }
    if (fullSlots.length > 0) upserts.push(upsertOf(table, table.fullFieldMask, fullSlots));
    if (removedSlots.length === 0 && upserts.length === 0) return undefined;
    return { componentIndex: table.index, removedSlots, upserts };
  }

  private lifecycleChanged(slot: number): boolean {
    const index = this.slotPositions[slot];
    assert(this.touchedSlots[index] === slot, `stamped slot ${slot} missing from the journal`);
    const registry = this.world.registry;
    return registry.generations[slot] !== this.generationBefore[index] || registry.alive[slot] !== this.aliveBefore[index];
  }
}

function upsertOf(table: ComponentTable, fieldMask: number, slots: number[]): Upsert {
  const columns: ChangeColumn[] = fieldsOfMask(fieldMask).map((fieldIndex) => {
    const field = table.fields[fieldIndex];
    const column = table.columnList[fieldIndex];
    if (Array.isArray(column)) return slots.map((slot) => column[slot]);
    const values: number[] = new Array(slots.length * field.stride);
    for (let r = 0; r < slots.length; r++) {
      for (let k = 0; k < field.stride; k++) values[r * field.stride + k] = column[slots[r] * field.stride + k];
    }
    return values;
  });
  return { fieldMask, slots, columns };
}

function growStamps(stamps: Uint32Array, needed: number): Uint32Array<ArrayBuffer> {
  let capacity = stamps.length * 2;
  while (capacity < needed) capacity *= 2;
  const grown = new Uint32Array(capacity);
  grown.set(stamps);
  return grown;
}
