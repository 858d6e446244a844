/**
 * The in-memory world: the entity registry, one table per component, and the bitecs membership
 * index, kept consistent by a handful of physical primitives. Transactions, rollback and write-set
 * replay all change the world only through these primitives, so there is one code path to trust.
 *
 * The primitives do not validate user input (the transaction layer does) and do not log anything.
 */
import { invariantFailed } from '../assert.js';
import { EcsdbError } from '../errors.js';
import type { AnyComponentDef } from '../schema/component.js';
import { EntityRegistry } from './entities.js';
import { GENERATION_MAX, entityIdOf } from './entity-id.js';
import {
  addMembership,
  addSlot,
  createMembershipWorld,
  querySlots,
  removeMembership,
  removeSlot,
  type MembershipWorld,
} from './membership.js';
import { createTable, ensureTableCapacity, type ComponentTable } from './table.js';
import { fieldAccessOf, type FieldAccess } from './field-access.js';
import type { DirtyChunks } from '../snapshot/dirty-chunks.js';

export class World {
  readonly registry = new EntityRegistry();
  readonly tables: readonly ComponentTable[];
  readonly membership: MembershipWorld;
  /**
   * Chunks changed since an incremental snapshot last copied them; set by the snapshotter when
   * incremental snapshots are on (see snapshot/dirty-chunks.ts).
   */
  dirtyChunks: DirtyChunks | undefined;
  /** Checking and writing of field values, by table index (see field-access.ts). */
  readonly fieldAccess: readonly FieldAccess[];
  private readonly tableByDef: Map<AnyComponentDef, ComponentTable>;
  private readonly tableByName: Map<string, ComponentTable>;

  constructor(components: readonly AnyComponentDef[]) {
    this.tableByName = new Map();
    this.tables = components.map((def, index) => {
      if (this.tableByName.has(def.name)) {
        throw new EcsdbError(
          'DUPLICATE_COMPONENT',
          `two components are named ${JSON.stringify(def.name)} (positions ${this.tableByName.get(def.name)!.index} and ${index}); component names must be unique`,
        );
      }
      const table = createTable(def, index);
      this.tableByName.set(def.name, table);
      return table;
    });
    this.tableByDef = new Map(this.tables.map((table) => [table.def, table]));
    this.fieldAccess = this.tables.map(fieldAccessOf);
    this.membership = createMembershipWorld(this.tables.map((table) => table.columns));
  }

  /** The last definition tableOf found, and its table: a loop writes one component many times. */
  #lastDef: AnyComponentDef | undefined;
  #lastTable: ComponentTable | undefined;

  /** The table of a component definition, or undefined when it is not part of this world. */
  tableOf(def: AnyComponentDef): ComponentTable | undefined {
    if (def === this.#lastDef) return this.#lastTable;
    const table = this.tableByDef.get(def);
    if (table !== undefined) {
      this.#lastDef = def;
      this.#lastTable = table;
    }
    return table;
  }

  tableNamed(name: string): ComponentTable | undefined {
    return this.tableByName.get(name);
  }

  isAlive = (id: number): boolean => this.registry.isAlive(id);

  /** Makes the slot hold a live entity of `generation` with no components. */
  bringToLife(slot: number, generation: number): number {
    if (this.registry.alive[slot] === 1 && slot < this.registry.highWater) invariantFailed(`slot ${slot} is already alive`);
    this.registry.setSlot(slot, generation, true);
    for (const table of this.tables) ensureTableCapacity(table, slot + 1);
    addSlot(this.membership, slot);
    return entityIdOf(slot, generation);
  }

  /**
   * Ends the life of the slot's entity: drops all its components and sets the generation its
   * next entity will get (a generation past GENERATION_MAX retires the slot).
   */
  kill(slot: number, nextGeneration: number): void {
    if (!(nextGeneration <= GENERATION_MAX + 1)) invariantFailed(`generation ${nextGeneration} out of range`);
    if (this.registry.alive[slot] === 1 && slot < this.registry.highWater) {
      for (const table of this.tables) {
        if (table.present[slot] === 1) {
          table.present[slot] = 0;
          table.count--;
        }
      }
      removeSlot(this.membership, slot);
    }
    this.registry.setSlot(slot, nextGeneration, false);
  }

  /**
   * Sets the slot's lifecycle state physically, whatever it was (replay and rollback). A slot
   * that is alive at another generation, or comes to life, starts with no components.
   */
  setSlotState(slot: number, generation: number, alive: boolean): void {
    const registry = this.registry;
    const wasAlive = slot < registry.highWater && registry.alive[slot] === 1;
    if (wasAlive && alive && registry.generations[slot] === generation) return;
    if (wasAlive) this.kill(slot, generation);
    if (alive) this.bringToLife(slot, generation);
    else if (!wasAlive) registry.setSlot(slot, generation, false);
  }

  addComponentAt(table: ComponentTable, slot: number): void {
    if (table.present[slot] === 1) return;
    ensureTableCapacity(table, slot + 1);
    table.present[slot] = 1;
    table.count++;
    addMembership(this.membership, slot, table.columns);
  }

  removeComponentAt(table: ComponentTable, slot: number): void {
    if (slot >= table.capacity || table.present[slot] !== 1) return;
    table.present[slot] = 0;
    table.count--;
    removeMembership(this.membership, slot, table.columns);
  }

  /** The live slots that have every one of the tables' components (a live bitecs array). */
  querySlots(tables: readonly ComponentTable[]): readonly number[] {
    return querySlots(
      this.membership,
      tables.map((table) => table.columns),
    );
  }
}
