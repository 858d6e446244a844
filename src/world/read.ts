/**
 * Reads of the world shared by the database (committed state) and by transactions (which see
 * their own writes, because they write into the world directly). Every read checks its inputs:
 * an id that names no live entity is NO_SUCH_ENTITY, a definition not opened with the database
 * is UNKNOWN_COMPONENT.
 */
import { EcsdbError } from '../errors.js';
import type { AnyComponentDef, ComponentValue, FieldsSpec, ComponentDef } from '../schema/component.js';
import type { Entity } from '../schema/types.js';
import { entityIdOf } from './entity-id.js';
import { readComponent, type ComponentTable } from './table.js';
import type { World } from './world.js';

export function requireTable(world: World, def: AnyComponentDef): ComponentTable {
  const table = world.tableOf(def);
  if (table === undefined) {
    const name = def !== null && typeof def === 'object' && typeof def.name === 'string' ? def.name : String(def);
    const known = world.tables.map((t) => t.def.name).join(', ') || 'none';
    throw new EcsdbError(
      'UNKNOWN_COMPONENT',
      `component ${name} is not part of this database (opened with: ${known}); pass its definition to open({ components })`,
    );
  }
  return table;
}

/** The slot of a live entity; NO_SUCH_ENTITY otherwise. */
export function requireLiveSlot(world: World, id: Entity): number {
  // The type check keeps a numeric string such as '0' (from untyped callers) from naming slot 0.
  const slot = typeof id === 'number' ? world.registry.liveSlotOf(id) : -1;
  if (slot !== -1) return slot;
  throw new EcsdbError('NO_SUCH_ENTITY', world.registry.describeDeadId(id));
}

export function exists(world: World, id: Entity): boolean {
  return typeof id === 'number' && world.registry.isAlive(id);
}

export function hasComponent(world: World, id: Entity, def: AnyComponentDef): boolean {
  const table = requireTable(world, def);
  const slot = requireLiveSlot(world, id);
  return slot < table.capacity && table.present[slot] === 1;
}

export function getComponent<S extends FieldsSpec>(world: World, id: Entity, def: ComponentDef<S>): ComponentValue<S> | undefined {
  const table = requireTable(world, def);
  const slot = requireLiveSlot(world, id);
  if (slot >= table.capacity || table.present[slot] !== 1) return undefined;
  return readComponent(table, slot) as ComponentValue<S>;
}

/**
 * Entity ids that have every listed component (all live entities when none is listed), in
 * ascending slot order: deterministic, the same after replay or recovery as before it.
 */
export function queryEntities(world: World, defs: readonly AnyComponentDef[]): Entity[] {
  const registry = world.registry;
  if (defs.length === 0) {
    const ids: Entity[] = [];
    for (let slot = 0; slot < registry.highWater; slot++) {
      if (registry.alive[slot] === 1) ids.push(entityIdOf(slot, registry.generations[slot]));
    }
    return ids;
  }
  const slots = Uint32Array.from(world.querySlots(defs.map((def) => requireTable(world, def)))).sort();
  const ids: Entity[] = new Array(slots.length);
  for (let i = 0; i < slots.length; i++) ids[i] = entityIdOf(slots[i], registry.generations[slots[i]]);
  return ids;
}
