/**
 * What changed between two views of the same database: entities added and removed, and for the
 * entities alive in both, components added, removed and changed (with the fields that differ).
 * "What happened between tick 100 and 200", for `ecsdb diff` and `diffViews()`.
 *
 * An entity is its id: a slot that was reused (another generation) is one entity removed and
 * another added. Values compare as the state hash sees them (src/world/state-hash.ts): NaN
 * equals NaN, -0 differs from +0 in floats, entity references compare as ids. Everything is
 * listed in ascending slot order.
 */
import { EcsdbError } from '../errors.js';
import type { Entity } from '../schema/types.js';
import { readComponent, readField, type ComponentTable, type FieldInfo } from '../world/table.js';
import type { World } from '../world/world.js';
import { worldOf, type HistoricalView } from './view.js';

export type ComponentValues = Record<string, Record<string, unknown>>;

export interface EntityState {
  readonly entity: Entity;
  readonly components: ComponentValues;
}

export interface ComponentChange {
  /** The fields whose values differ, in definition order. */
  readonly fields: readonly string[];
  readonly before: Record<string, unknown>;
  readonly after: Record<string, unknown>;
}

export interface EntityChange {
  readonly entity: Entity;
  readonly added: ComponentValues;
  readonly removed: ComponentValues;
  readonly changed: Record<string, ComponentChange>;
}

export interface StateDiff {
  readonly fromLsn: number;
  readonly toLsn: number;
  /** Entities alive at `toLsn` but not at `fromLsn`, with their components then. */
  readonly added: readonly EntityState[];
  /** Entities alive at `fromLsn` but not at `toLsn`, with their components before. */
  readonly removed: readonly EntityState[];
  /** Entities alive at both whose components differ. */
  readonly changed: readonly EntityChange[];
}

export interface DiffOptions {
  /** Only these components (names); default all. */
  readonly components?: readonly string[];
}

export function diffViews(from: HistoricalView, to: HistoricalView, options: DiffOptions = {}): StateDiff {
  const before = worldOf(from);
  const after = worldOf(to);
  const tables = selectTables(before, after, options.components);
  const added: EntityState[] = [];
  const removed: EntityState[] = [];
  const changed: EntityChange[] = [];
  const slotEnd = Math.max(before.registry.highWater, after.registry.highWater);
  for (let slot = 0; slot < slotEnd; slot++) {
    const idBefore = liveId(before, slot);
    const idAfter = liveId(after, slot);
    if (idBefore === idAfter) {
      if (idBefore !== undefined) {
        const change = entityChange(tables, before, after, slot, idBefore);
        if (change !== undefined) changed.push(change);
      }
      continue;
    }
    if (idBefore !== undefined) removed.push({ entity: idBefore, components: componentsAt(before, tables, slot) });
    if (idAfter !== undefined) added.push({ entity: idAfter, components: componentsAt(after, tables, slot) });
  }
  return { fromLsn: from.lsn, toLsn: to.lsn, added, removed, changed };
}

/** The table indices to compare; both worlds must have the same schema. */
function selectTables(before: World, after: World, names: readonly string[] | undefined): number[] {
  const schemaOf = (world: World) => world.tables.map((table) => `${table.def.name}(${table.fields.map((f) => `${f.name}:${f.type.kind}`).join(',')})`).join(' ');
  if (schemaOf(before) !== schemaOf(after)) {
    throw new EcsdbError('SCHEMA_MISMATCH', 'diffViews() compares two views of the same database, opened with the same components');
  }
  if (names === undefined) return before.tables.map((table) => table.index);
  return names.map((name) => {
    const table = before.tableNamed(name);
    if (table === undefined) {
      throw new EcsdbError('UNKNOWN_COMPONENT', `diffViews(): no component ${JSON.stringify(name)}; the views have ${before.tables.map((t) => t.def.name).join(', ')}`);
    }
    return table.index;
  });
}

function liveId(world: World, slot: number): Entity | undefined {
  const registry = world.registry;
  return slot < registry.highWater && registry.alive[slot] === 1 ? registry.idOfSlot(slot) : undefined;
}

function has(table: ComponentTable, slot: number): boolean {
  return slot < table.capacity && table.present[slot] === 1;
}

function componentsAt(world: World, tables: readonly number[], slot: number): ComponentValues {
  const components: ComponentValues = {};
  for (const index of tables) {
    const table = world.tables[index];
    if (has(table, slot)) components[table.def.name] = readComponent(table, slot);
  }
  return components;
}

function entityChange(tables: readonly number[], before: World, after: World, slot: number, entity: Entity): EntityChange | undefined {
  const change = { entity, added: {} as ComponentValues, removed: {} as ComponentValues, changed: {} as Record<string, ComponentChange> };
  let any = false;
  for (const index of tables) {
    const a = before.tables[index];
    const b = after.tables[index];
    const name = a.def.name;
    if (has(a, slot) && has(b, slot)) {
      const fields = a.fields.filter((field) => !sameValue(field, readField(a, field.index, slot), readField(b, field.index, slot))).map((f) => f.name);
      if (fields.length === 0) continue;
      change.changed[name] = { fields, before: readComponent(a, slot), after: readComponent(b, slot) };
    } else if (has(b, slot)) {
      change.added[name] = readComponent(b, slot);
    } else if (has(a, slot)) {
      change.removed[name] = readComponent(a, slot);
    } else {
      continue;
    }
    any = true;
  }
  return any ? change : undefined;
}

function sameValue(field: FieldInfo, a: unknown, b: unknown): boolean {
  if (field.type.kind === 'entity') return a === b;
  if (field.type.kind === 'array') return (a as number[]).every((value, i) => Object.is(value, (b as number[])[i]));
  return Object.is(a, b);
}
