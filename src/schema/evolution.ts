/**
 * Schema evolution: how a world stored under one schema becomes a world of another, without user
 * code where that is safe. Components and fields are matched by name (their order may change);
 * then, per component and field:
 *
 *   added component       empty in the new world
 *   removed component     its data is dropped (reported with the number of entities that had it)
 *   added field           every entity that has the component gets the field's default
 *   removed field         dropped (reported)
 *   same type             copied
 *   widened numeric type  copied and converted, when every value of the old type is exactly a
 *                         value of the new one: i8 → i16 i32 f32 f64; u8 → u16 u32 i16 i32 f32
 *                         f64; i16 → i32 f32 f64; u16 → u32 i32 f32 f64; i32 u32 → f64;
 *                         f32 → f64; arrays element-wise with the same length
 *   anything else         (a narrowed or otherwise changed type, a changed array length, ...)
 *                         has no safe conversion: it needs a declared migration, which finds
 *                         the field at its default and writes it; without one, open() fails with
 *                         SCHEMA_MISMATCH naming the component and field
 *
 * A rename cannot be told apart from a removal plus an addition, so it is one: a migration
 * reads the old name from the old world and writes the new one.
 *
 * The conversion is a pure function of the two schemas and the old world, so recovery can repeat
 * it exactly when it replays the WAL across a schema change (see recovery/migrate.ts).
 */
import { assert } from '../assert.js';
import { EcsdbError } from '../errors.js';
import type { StoredComponent, StoredField } from '../meta/meta-file.js';
import { describeStoredField } from '../meta/meta-file.js';
import { INTEGER_RANGE, isNumericKind, t, type FieldType, type NumericArray, type NumericKind } from './types.js';
import { defineComponent, type AnyComponentDef } from './component.js';
import { ensureTableCapacity, type ComponentTable } from '../world/table.js';
import { World } from '../world/world.js';
import { addMembershipBulk, addSlotsToEmptyWorld } from '../world/membership.js';

/** How one field of a new component gets its values. */
export type FieldPlan =
  | { readonly kind: 'copy'; readonly newIndex: number; readonly oldIndex: number }
  | { readonly kind: 'widen'; readonly newIndex: number; readonly oldIndex: number; readonly from: string; readonly to: string }
  | { readonly kind: 'default'; readonly newIndex: number }
  /** No safe conversion: the field starts at its default and a migration must write it. */
  | { readonly kind: 'unconvertible'; readonly newIndex: number; readonly oldIndex: number; readonly from: string; readonly to: string };

export interface ComponentPlan {
  readonly name: string;
  readonly newIndex: number;
  /** Undefined for an added component. */
  readonly oldIndex: number | undefined;
  readonly fields: readonly FieldPlan[];
  /** Old fields the new component no longer has. */
  readonly droppedFields: readonly string[];
}

export interface EvolutionPlan {
  readonly components: readonly ComponentPlan[];
  /** Old components the new schema no longer has. */
  readonly removedComponents: readonly string[];
  /** True when the two schemas are the same, in the same order: nothing to convert. */
  readonly identical: boolean;
}

/** Matches the new schema's components and fields to the old one's by name. */
export function planEvolution(oldSchema: readonly StoredComponent[], newSchema: readonly StoredComponent[]): EvolutionPlan {
  const oldIndexOf = new Map(oldSchema.map((c, i) => [c.name, i]));
  const components = newSchema.map((component, newIndex): ComponentPlan => {
    const oldIndex = oldIndexOf.get(component.name);
    if (oldIndex === undefined) {
      return { name: component.name, newIndex, oldIndex, fields: component.fields.map((_, i) => ({ kind: 'default', newIndex: i })), droppedFields: [] };
    }
    const old = oldSchema[oldIndex];
    const oldFieldIndex = new Map(old.fields.map((f, i) => [f.name, i]));
    const fields = component.fields.map((field, i) => planField(field, i, oldFieldIndex.get(field.name), old.fields));
    const kept = new Set(component.fields.map((f) => f.name));
    return { name: component.name, newIndex, oldIndex, fields, droppedFields: old.fields.filter((f) => !kept.has(f.name)).map((f) => f.name) };
  });
  const kept = new Set(newSchema.map((c) => c.name));
  const removedComponents = oldSchema.filter((c) => !kept.has(c.name)).map((c) => c.name);
  const identical = JSON.stringify(oldSchema) === JSON.stringify(newSchema);
  return { components, removedComponents, identical };
}

function planField(field: StoredField, newIndex: number, oldIndex: number | undefined, oldFields: readonly StoredField[]): FieldPlan {
  if (oldIndex === undefined) return { kind: 'default', newIndex };
  const old = oldFields[oldIndex];
  const from = describeType(old);
  const to = describeType(field);
  if (from === to) return { kind: 'copy', newIndex, oldIndex };
  return isWidening(old, field) ? { kind: 'widen', newIndex, oldIndex, from, to } : { kind: 'unconvertible', newIndex, oldIndex, from, to };
}

function describeType(field: StoredField): string {
  return describeStoredField(field).slice(field.name.length + 2);
}

/** Largest integer a float kind holds exactly, with every integer below it. */
const FLOAT_EXACT_INTEGER_MAX: Partial<Record<NumericKind, number>> = { f32: 2 ** 24, f64: 2 ** 53 };

/** True when every value of numeric kind `from` is exactly a value of kind `to`. */
export function isWideningKind(from: string, to: string): boolean {
  if (!isNumericKind(from) || !isNumericKind(to) || from === to) return false;
  if (from === 'f64') return false;
  if (from === 'f32') return to === 'f64';
  const [low, high] = INTEGER_RANGE[from]!;
  const toRange = INTEGER_RANGE[to];
  if (toRange !== undefined) return toRange[0] <= low && high <= toRange[1];
  const exact = FLOAT_EXACT_INTEGER_MAX[to]!;
  return -exact <= low && high <= exact;
}

function isWidening(from: StoredField, to: StoredField): boolean {
  if (from.kind === 'array' && to.kind === 'array') return from.length === to.length && isWideningKind(from.element ?? '', to.element ?? '');
  return isWideningKind(from.kind, to.kind);
}

/** The changes that need a migration (empty when none). */
export function unconvertibleFields(plan: EvolutionPlan, newSchema: readonly StoredComponent[]): { component: string; field: string; from: string; to: string }[] {
  const found: { component: string; field: string; from: string; to: string }[] = [];
  for (const component of plan.components) {
    for (const field of component.fields) {
      if (field.kind === 'unconvertible') found.push({ component: component.name, field: newSchema[component.newIndex].fields[field.newIndex].name, from: field.from, to: field.to });
    }
  }
  return found;
}

/** Component definitions equal to a stored schema, in its order (the application's code aside). */
export function componentsOf(schema: readonly StoredComponent[]): AnyComponentDef[] {
  return schema.map((component) => {
    const fields: Record<string, FieldType> = {};
    for (const field of component.fields) fields[field.name] = fieldTypeOf(component.name, field);
    return defineComponent(component.name, fields) as unknown as AnyComponentDef;
  });
}

function fieldTypeOf(component: string, field: StoredField): FieldType {
  const kind = field.kind;
  if (isNumericKind(kind)) return t[kind];
  if (kind === 'bool' || kind === 'string' || kind === 'entity') return t[kind];
  if (kind === 'array' && field.element !== undefined && isNumericKind(field.element) && typeof field.length === 'number') {
    return t.array(t[field.element], field.length);
  }
  throw new EcsdbError('INVALID_SCHEMA', `the stored schema gives ${component}.${field.name} the unknown type ${JSON.stringify(kind)}`);
}

/** What a conversion dropped and changed, for the migration report. */
export interface ConversionReport {
  readonly addedComponents: readonly string[];
  readonly removedComponents: readonly { readonly component: string; readonly entityCount: number }[];
  readonly addedFields: readonly { readonly component: string; readonly field: string }[];
  readonly droppedFields: readonly { readonly component: string; readonly field: string; readonly entityCount: number }[];
  readonly widenedFields: readonly { readonly component: string; readonly field: string; readonly from: string; readonly to: string }[];
  /** Fields with no safe conversion, left at their default for a migration to write. */
  readonly resetFields: readonly { readonly component: string; readonly field: string; readonly from: string; readonly to: string }[];
}

/** What converting a world from the old schema with `plan` drops and changes. */
export function describeConversion(plan: EvolutionPlan, oldWorld: World, newComponents: readonly AnyComponentDef[]): ConversionReport {
  const report = {
    addedComponents: [] as string[],
    removedComponents: plan.removedComponents.map((component) => ({ component, entityCount: oldWorld.tableNamed(component)!.count })),
    addedFields: [] as { component: string; field: string }[],
    droppedFields: [] as { component: string; field: string; entityCount: number }[],
    widenedFields: [] as { component: string; field: string; from: string; to: string }[],
    resetFields: [] as { component: string; field: string; from: string; to: string }[],
  };
  for (const component of plan.components) {
    if (component.oldIndex === undefined) {
      report.addedComponents.push(component.name);
      continue;
    }
    const entityCount = oldWorld.tables[component.oldIndex].count;
    for (const field of component.droppedFields) report.droppedFields.push({ component: component.name, field, entityCount });
    for (const field of component.fields) {
      const name = newComponents[component.newIndex].fieldNames[field.newIndex];
      if (field.kind === 'default') report.addedFields.push({ component: component.name, field: name });
      if (field.kind === 'widen') report.widenedFields.push({ component: component.name, field: name, from: field.from, to: field.to });
      if (field.kind === 'unconvertible') report.resetFields.push({ component: component.name, field: name, from: field.from, to: field.to });
    }
  }
  return report;
}

/**
 * A new world of `newComponents` holding `oldWorld`'s data converted by `plan`: the same entities
 * (slots, generations, so the same ids), each component by name, each field copied, widened or
 * at its default. `oldWorld` is only read.
 */
export function convertWorld(oldWorld: World, plan: EvolutionPlan, newComponents: readonly AnyComponentDef[]): World {
  const world = new World(newComponents);
  const registry = oldWorld.registry;
  const highWater = registry.highWater;
  world.registry.importState({ highWater, generations: registry.generations.slice(0, highWater), alive: registry.alive.slice(0, highWater) });
  const liveSlots: number[] = [];
  for (let slot = 0; slot < highWater; slot++) if (registry.alive[slot] === 1) liveSlots.push(slot);
  addSlotsToEmptyWorld(world.membership, liveSlots);
  for (const component of plan.components) {
    if (component.oldIndex === undefined) continue;
    const table = world.tables[component.newIndex];
    const old = oldWorld.tables[component.oldIndex];
    ensureTableCapacity(table, highWater);
    const slots: number[] = [];
    for (let slot = 0; slot < highWater; slot++) if (old.present[slot] === 1) slots.push(slot);
    for (const slot of slots) table.present[slot] = 1;
    for (const field of component.fields) {
      if (field.kind === 'copy' || field.kind === 'widen') copyColumn(old, field.oldIndex, table, field.newIndex, slots);
    }
    addMembershipBulk(world.membership, slots, table.columns);
    table.count = slots.length;
  }
  return world;
}

/**
 * Copies a field's values at `slots`. Numbers are JavaScript doubles in between, and the plan
 * only copies to a kind that holds every value of the old one, so nothing is rounded.
 */
function copyColumn(old: ComponentTable, oldIndex: number, table: ComponentTable, newIndex: number, slots: readonly number[]): void {
  const from = old.columnList[oldIndex];
  const to = table.columnList[newIndex];
  if (Array.isArray(from)) {
    for (const slot of slots) (to as string[])[slot] = from[slot];
    return;
  }
  const stride = table.fields[newIndex].stride;
  assert(stride === old.fields[oldIndex].stride, `${table.def.name}.${table.fields[newIndex].name}: a copy between array lengths`);
  const target = to as NumericArray;
  for (const slot of slots) {
    for (let k = 0; k < stride; k++) target[slot * stride + k] = from[slot * stride + k];
  }
}
