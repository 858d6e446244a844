/**
 * A read-only view of the world as it was at one LSN (see open-at.ts). It owns a world of its
 * own, built from a snapshot and the WAL: nothing it does touches the database or its files, and
 * it has no transactions. Reads behave as the database's do (same errors, same order).
 */
import { EcsdbError } from '../errors.js';
import type { AnyComponentDef, ComponentDef, ComponentValue, FieldsSpec } from '../schema/component.js';
import type { Entity } from '../schema/types.js';
import { entityIdOf } from '../world/entity-id.js';
import { exists, getComponent, hasComponent, queryEntities, requireTable } from '../world/read.js';
import { stateHash, type StateHashOptions } from '../world/state-hash.js';
import type { ColumnsOf } from '../db/database.js';
import type { World } from '../world/world.js';

/** Where a view's world came from. */
export interface ViewSource {
  /** The snapshot loaded first (undefined: the WAL was replayed from LSN 1). */
  readonly snapshot: string | undefined;
  /** Write sets replayed after it. */
  readonly recordsReplayed: number;
}

const worlds = new WeakMap<HistoricalView, World>();

/** @internal The world behind a view (for diff). */
export function worldOf(view: HistoricalView): World {
  view.requireOpen();
  return worlds.get(view)!;
}

export class HistoricalView {
  #closed = false;

  /** @internal Use `openAt()` or `db.at()`. */
  constructor(
    world: World,
    /** The LSN the view shows: the world after commit `lsn` (0: before the first commit). */
    readonly lsn: number,
    /**
     * The recorded commit time (ms since the epoch) of commit `lsn`; undefined for LSN 0, and
     * when the view comes from a snapshot ending exactly there whose WAL is no longer retained.
     */
    readonly timeMs: number | undefined,
    readonly source: ViewSource,
  ) {
    worlds.set(this, world);
  }

  /** The component definitions the view was opened with. */
  get components(): readonly AnyComponentDef[] {
    return this.#world.tables.map((table) => table.def);
  }

  get entityCount(): number {
    return this.#world.registry.liveCount;
  }

  get<S extends FieldsSpec>(entity: Entity, component: ComponentDef<S>): ComponentValue<S> | undefined {
    return getComponent(this.#world, entity, component);
  }

  has(entity: Entity, component: AnyComponentDef): boolean {
    return hasComponent(this.#world, entity, component);
  }

  exists(entity: Entity): boolean {
    return exists(this.#world, entity);
  }

  /** The entities that have every listed component (all live ones when none), ascending slot order. */
  query(...components: AnyComponentDef[]): Entity[] {
    return queryEntities(this.#world, components);
  }

  /** Zero-copy: the live rows (slots) that have every listed component (see Database.queryRows). */
  queryRows(...components: AnyComponentDef[]): readonly number[] {
    if (components.length === 0) throw new EcsdbError('INVALID_ARGUMENT', 'queryRows() needs at least one component');
    const world = this.#world;
    return world.querySlots(components.map((def) => requireTable(world, def)));
  }

  /** Zero-copy: the component's columns, indexed by row (see Database.columns). Read only. */
  columns<S extends FieldsSpec>(component: ComponentDef<S>): ColumnsOf<S> {
    return requireTable(this.#world, component).columns as ColumnsOf<S>;
  }

  /** The entity id of the live entity in `row`. */
  entityAt(row: number): Entity {
    const registry = this.#world.registry;
    if (!Number.isInteger(row) || row < 0 || row >= registry.highWater || registry.alive[row] !== 1) {
      throw new EcsdbError('NO_SUCH_ENTITY', `row ${row} holds no live entity`);
    }
    return entityIdOf(row, registry.generations[row]);
  }

  /** The canonical hash of the world at this LSN (see Database.stateHash). */
  stateHash(options?: StateHashOptions): string {
    return stateHash(this.#world, options);
  }

  /** Drops the view's world; later calls fail with DB_CLOSED. Nothing on disk is involved. */
  close(): void {
    this.#closed = true;
    worlds.delete(this);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal */
  requireOpen(): void {
    if (this.#closed) throw new EcsdbError('DB_CLOSED', `the view of LSN ${this.lsn} is closed`);
  }

  get #world(): World {
    this.requireOpen();
    return worlds.get(this)!;
  }
}
