/**
 * The object a `transact` callback receives. Every write validates all of its input before it
 * touches anything, records a before-image in the journal, then writes into the world; reads go
 * straight to the world and so see the transaction's own writes.
 *
 * A Transaction is valid only while its callback runs: an async callback that kept it past an
 * `await` gets TRANSACTION_CLOSED instead of writing into a later transaction.
 */
import { EcsdbError } from '../errors.js';
import type { AnyComponentDef, ComponentColumns, ComponentDef, ComponentInput, ComponentValue, FieldsSpec } from '../schema/component.js';
import type { Entity } from '../schema/types.js';
import { exists, getComponent, hasComponent, queryEntities, requireLiveSlot, requireTable } from '../world/read.js';
import type { World } from '../world/world.js';
import type { FastSet } from './fast-set.js';
import type { Journal } from './journal.js';
import { setColumns } from './set-columns.js';

export class Transaction {
  #active = true;

  constructor(
    private readonly world: World,
    private readonly journal: Journal,
    /** Each table's fast `set` (fast-set.ts), by table index; undefined where it has none. */
    private readonly fastSets: readonly (FastSet | undefined)[],
  ) {}

  /** Creates an entity with no components and returns its id. */
  create(): Entity {
    this.#requireActive();
    const world = this.world;
    const registry = world.registry;
    const slot = registry.allocate();
    this.journal.touchSlot(slot);
    const generation = slot < registry.highWater ? registry.generations[slot] : 0;
    return world.bringToLife(slot, generation);
  }

  /** Destroys a live entity and all its components; its id never names another entity. */
  destroy(entity: Entity): void {
    this.#requireActive();
    const world = this.world;
    const slot = requireLiveSlot(world, entity);
    const journal = this.journal;
    journal.touchSlot(slot);
    for (const table of world.tables) {
      if (table.present[slot] === 1) journal.touchCell(table, slot, 0);
    }
    world.kill(slot, world.registry.generations[slot] + 1);
  }

  /** Adds a component the entity does not have yet; fields not given take their defaults. */
  add<S extends FieldsSpec>(entity: Entity, component: ComponentDef<S>, values?: ComponentInput<S>): void {
    this.#requireActive();
    const world = this.world;
    const table = requireTable(world, component);
    const slot = requireLiveSlot(world, entity);
    if (slot < table.capacity && table.present[slot] === 1) {
      throw new EcsdbError('COMPONENT_EXISTS', `entity ${entity} already has ${table.def.name}; use set() to change its fields`);
    }
    const input = values ?? EMPTY;
    const access = world.fieldAccess[table.index];
    access.check(input, world.isAlive);
    this.journal.touchCell(table, slot, table.fullFieldMask);
    world.addComponentAt(table, slot);
    access.writeAll(slot, input);
  }

  /** Changes some fields of a component the entity has. */
  set<S extends FieldsSpec>(entity: Entity, component: ComponentDef<S>, values: ComponentInput<S>): void {
    this.#requireActive();
    const world = this.world;
    const table = requireTable(world, component);
    const slot = requireLiveSlot(world, entity);
    if (slot >= table.capacity || table.present[slot] !== 1) {
      throw new EcsdbError('COMPONENT_MISSING', `entity ${entity} has no ${table.def.name}; use add() first`);
    }
    const fastSet = this.fastSets[table.index];
    if (fastSet !== undefined && fastSet(slot, values, this.journal, world.isAlive)) return;
    const access = world.fieldAccess[table.index];
    const mask = access.check(values, world.isAlive);
    this.journal.touchCell(table, slot, mask);
    access.writeGiven(slot, values);
  }

  /**
   * Sets fields of many entities from columns: `columns.x[i]` is entity `entities[i]`'s x (array
   * fields: `length` values per entity). The same as calling `set` for each entity in order,
   * logged the same way, but with no object per entity; every entity and value is checked
   * before anything is written.
   */
  setColumns<S extends FieldsSpec>(entities: ArrayLike<Entity>, component: ComponentDef<S>, columns: ComponentColumns<S>): void {
    this.#requireActive();
    setColumns(this.world, this.journal, entities, requireTable(this.world, component), columns);
  }

  /** Removes a component; removing one the entity does not have is a no-op. */
  remove(entity: Entity, component: AnyComponentDef): void {
    this.#requireActive();
    const world = this.world;
    const table = requireTable(world, component);
    const slot = requireLiveSlot(world, entity);
    if (slot >= table.capacity || table.present[slot] !== 1) return;
    this.journal.touchCell(table, slot, 0);
    world.removeComponentAt(table, slot);
  }

  get<S extends FieldsSpec>(entity: Entity, component: ComponentDef<S>): ComponentValue<S> | undefined {
    this.#requireActive();
    return getComponent(this.world, entity, component);
  }

  has(entity: Entity, component: AnyComponentDef): boolean {
    this.#requireActive();
    return hasComponent(this.world, entity, component);
  }

  exists(entity: Entity): boolean {
    this.#requireActive();
    return exists(this.world, entity);
  }

  query(...components: AnyComponentDef[]): Entity[] {
    this.#requireActive();
    return queryEntities(this.world, components);
  }

  /** Called by the database when the callback has returned or thrown. */
  close(): void {
    this.#active = false;
  }

  #requireActive(): void {
    if (!this.#active) {
      throw new EcsdbError(
        'TRANSACTION_CLOSED',
        'this transaction has ended; a transaction object is valid only while its callback runs (do not keep it across await)',
      );
    }
  }
}

const EMPTY = Object.freeze({});
