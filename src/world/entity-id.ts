/**
 * Entity ids. An id is a safe integer `generation * 2^SLOT_BITS + slot`: the slot indexes the
 * component columns (and is the bitecs entity id); the generation counts how often the slot has
 * been reused, so a stale id of a destroyed entity never names the entity that reuses its slot.
 *
 * A fresh slot starts at generation 0, so most ids equal their slot. A slot whose generation
 * would pass GENERATION_MAX is retired: it is never handed out again.
 */
export const SLOT_BITS = 24;
export const SLOT_COUNT_MAX = 2 ** SLOT_BITS; // 16,777,216 live entities at most
export const GENERATION_MAX = 2 ** (53 - SLOT_BITS) - 1;

export function entityIdOf(slot: number, generation: number): number {
  return generation * SLOT_COUNT_MAX + slot;
}

export function slotOf(id: number): number {
  return id < SLOT_COUNT_MAX ? id : id % SLOT_COUNT_MAX;
}

export function generationOf(id: number): number {
  return id < SLOT_COUNT_MAX ? 0 : Math.floor(id / SLOT_COUNT_MAX);
}

/** True when `value` has the shape of an entity id (whether or not it is alive). */
export function isEntityIdShape(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && generationOf(value) <= GENERATION_MAX;
}
