/**
 * Applies a write set to a world, physically and idempotently, in the order the format defines:
 * slot states, then per component removals, then upserts. Used by replay (WAL, and later
 * snapshot catch-up); never fires observers and never validates values, because a write set was
 * validated when its transaction ran and was checksummed when it was read back.
 */
import { assert } from '../assert.js';
import type { World } from '../world/world.js';
import { writeField, type ComponentTable } from '../world/table.js';
import { fieldsOfMask, type ChangeColumn, type Upsert, type WriteSet } from './write-set.js';

export function applyWriteSet(world: World, writeSet: WriteSet): void {
  const { slots, generations, alive } = writeSet.slots;
  for (let i = 0; i < slots.length; i++) world.setSlotState(slots[i], generations[i], alive[i] === 1);
  for (const change of writeSet.components) {
    const table = world.tables[change.componentIndex];
    assert(table !== undefined, `write set names component ${change.componentIndex}, not in the schema`);
    for (const slot of change.removedSlots) world.removeComponentAt(table, slot);
    for (const upsert of change.upserts) applyUpsert(world, table, upsert);
  }
}

function applyUpsert(world: World, table: ComponentTable, upsert: Upsert): void {
  const fieldIndices = fieldsOfMask(upsert.fieldMask);
  const row: unknown[] = [];
  for (let r = 0; r < upsert.slots.length; r++) {
    const slot = upsert.slots[r];
    assert(world.registry.alive[slot] === 1, `write set upserts ${table.def.name} on dead slot ${slot}`);
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
