/**
 * A canonical plain-object picture of a whole world, for deep-equality comparisons: the
 * registry's exported state, every live entity with its slot, generation and component values,
 * and, per component, the rows bitecs reports (so membership and the `present` flags are checked
 * against each other).
 */
import { expect } from 'vitest';
import { generationOf, slotOf } from '../../src/world/entity-id.js';
import { readComponent } from '../../src/world/table.js';
import type { World } from '../../src/world/world.js';

export interface EntityDump {
  readonly id: number;
  readonly slot: number;
  readonly generation: number;
  readonly components: Record<string, Record<string, unknown>>;
}

export interface WorldDump {
  readonly registry: { highWater: number; generations: number[]; alive: number[] };
  readonly entities: EntityDump[];
  /** Per component: the number of rows with it and the rows bitecs' query returns, ascending. */
  readonly tables: Record<string, { count: number; rows: number[] }>;
}

export function dumpWorld(world: World): WorldDump {
  const state = world.registry.exportState();
  const entities: EntityDump[] = [];
  for (let slot = 0; slot < state.highWater; slot++) {
    if (state.alive[slot] !== 1) continue;
    const id = world.registry.idOfSlot(slot);
    const components: Record<string, Record<string, unknown>> = {};
    for (const table of world.tables) {
      if (table.present[slot] === 1) components[table.def.name] = readComponent(table, slot);
    }
    entities.push({ id, slot: slotOf(id), generation: generationOf(id), components });
  }
  const tables: Record<string, { count: number; rows: number[] }> = {};
  for (const table of world.tables) {
    tables[table.def.name] = { count: table.count, rows: [...world.querySlots([table])].sort((a, b) => a - b) };
  }
  return {
    registry: { highWater: state.highWater, generations: Array.from(state.generations), alive: Array.from(state.alive) },
    entities,
    tables,
  };
}

/** Asserts the dump is internally consistent: membership agrees with the live entities' components. */
export function expectConsistentDump(dump: WorldDump): void {
  for (const [name, table] of Object.entries(dump.tables)) {
    const rows = dump.entities.filter((entity) => name in entity.components).map((entity) => entity.slot);
    expect(table.rows, `bitecs rows of ${name}`).toEqual(rows);
    expect(table.count, `row count of ${name}`).toBe(rows.length);
  }
}
