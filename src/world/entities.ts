/**
 * The entity registry: which slots hold a live entity and at which generation.
 *
 * Allocation is deterministic and depends on the registry's state alone, not on its history:
 * `allocate` hands out the lowest free slot, or the next never-used slot when none is free. That
 * is what lets a write set record only final slot states (physical after-images) and still
 * reproduce the exact same future ids after replay, snapshot or rollback.
 *
 * Free slots sit in a min-heap with lazy deletion: an entry may be stale (its slot was reused or
 * lies beyond the high-water mark after a rollback); `allocate` discards stale entries as it pops.
 * Invariant: every free, unretired slot below `highWater` has exactly one heap entry (`inHeap`).
 */
import { assert, invariantFailed } from '../assert.js';
import { EcsdbError } from '../errors.js';
import { GENERATION_MAX, SLOT_COUNT_MAX, entityIdOf, generationOf, isEntityIdShape, slotOf } from './entity-id.js';
import { heapPop, heapPush } from './min-heap.js';

/** The registry's complete state, as a snapshot stores it. */
export interface EntityRegistryState {
  /** Slots 0 .. highWater-1 have been used at least once. */
  readonly highWater: number;
  /** Generation of each used slot; a dead slot's generation is the one its next entity gets. */
  readonly generations: Uint32Array;
  /** 1 where the slot holds a live entity. */
  readonly alive: Uint8Array;
}

export class EntityRegistry {
  generations = new Uint32Array(1024);
  alive = new Uint8Array(1024);
  private inHeap = new Uint8Array(1024);
  private freeHeap: number[] = [];
  highWater = 0;
  liveCount = 0;

  /** The slot the next `allocate` returns; throws TOO_MANY_ENTITIES when none is left. */
  allocate(): number {
    for (;;) {
      const slot = heapPop(this.freeHeap);
      if (slot === undefined) break;
      this.inHeap[slot] = 0;
      if (this.isFreeSlot(slot)) return slot;
    }
    if (this.highWater >= SLOT_COUNT_MAX) {
      throw new EcsdbError('TOO_MANY_ENTITIES', `all ${SLOT_COUNT_MAX} entity slots are in use or retired`);
    }
    return this.highWater;
  }

  /**
   * Sets one slot's state physically. Every change of the registry goes through here: creation,
   * destruction, rollback and replay of a write set.
   */
  setSlot(slot: number, generation: number, alive: boolean): void {
    // Checked on every creation, destruction and replayed slot state: messages only on failure.
    if (!(Number.isInteger(slot) && slot >= 0 && slot < SLOT_COUNT_MAX)) invariantFailed(`slot ${slot} out of range`);
    if (!(generation >= 0 && generation <= GENERATION_MAX + 1)) invariantFailed(`generation ${generation} out of range`);
    this.ensureCapacity(slot + 1);
    while (this.highWater < slot) {
      // Replaying into a registry that has not seen the slots below: they are fresh and free.
      this.pushFree(this.highWater);
      this.highWater++;
    }
    if (slot === this.highWater) this.highWater++;
    if (this.alive[slot] === 1) this.liveCount--;
    this.generations[slot] = generation;
    this.alive[slot] = alive ? 1 : 0;
    if (alive) this.liveCount++;
    else this.pushFree(slot);
  }

  /** Undoes allocations of never-used slots (transaction rollback); those slots must be dead. */
  shrinkHighWater(highWater: number): void {
    for (let slot = highWater; slot < this.highWater; slot++) {
      assert(this.alive[slot] === 0, `rolling back high water over live slot ${slot}`);
      this.generations[slot] = 0;
    }
    this.highWater = Math.min(this.highWater, highWater);
  }

  isAlive(id: number): boolean {
    return this.liveSlotOf(id) !== -1;
  }

  /**
   * The slot of the live entity `id`, or -1 (for any number, whole or not). Slot and generation
   * come from one division, exact for every id that can be alive: the hot check of every write
   * (`% 2^24` on doubles was the slow part of the bulk path).
   */
  liveSlotOf(id: number): number {
    const generation = id < SLOT_COUNT_MAX ? 0 : Math.floor(id / SLOT_COUNT_MAX);
    const slot = (id - generation * SLOT_COUNT_MAX) | 0;
    return slot === id - generation * SLOT_COUNT_MAX && slot >= 0 && slot < this.highWater && this.alive[slot] === 1 && this.generations[slot] === generation ? slot : -1;
  }

  idOfSlot(slot: number): number {
    return entityIdOf(slot, this.generations[slot]);
  }

  /** Explains why `id` does not name a live entity, for NO_SUCH_ENTITY messages. */
  describeDeadId(id: unknown): string {
    if (!isEntityIdShape(id)) return `${String(id)} is not an entity id (expected a non-negative safe integer)`;
    const slot = slotOf(id);
    const generation = generationOf(id);
    if (slot >= this.highWater) return `entity ${id} was never created`;
    const current = this.generations[slot];
    if (generation > current) return `entity ${id} was never created (slot ${slot} is at generation ${current})`;
    if (generation < current || this.alive[slot] === 0) return `entity ${id} was destroyed`;
    return `entity ${id} is alive`;
  }

  exportState(): EntityRegistryState {
    return {
      highWater: this.highWater,
      generations: this.generations.slice(0, this.highWater),
      alive: this.alive.slice(0, this.highWater),
    };
  }

  /** Replaces the whole state; the free heap is rebuilt from it. */
  importState(state: EntityRegistryState): void {
    const { highWater, generations, alive } = state;
    assert(generations.length === highWater && alive.length === highWater, 'registry state arrays do not match highWater');
    this.generations = new Uint32Array(Math.max(1024, highWater));
    this.alive = new Uint8Array(this.generations.length);
    this.inHeap = new Uint8Array(this.generations.length);
    this.generations.set(generations);
    this.alive.set(alive);
    this.highWater = highWater;
    this.liveCount = 0;
    this.freeHeap = [];
    // Ascending order is already a valid min-heap.
    for (let slot = 0; slot < highWater; slot++) {
      if (!(generations[slot] <= GENERATION_MAX + 1)) invariantFailed(`slot ${slot} generation out of range`);
      if (alive[slot] === 1) this.liveCount++;
      else if (generations[slot] <= GENERATION_MAX) {
        this.freeHeap.push(slot);
        this.inHeap[slot] = 1;
      }
    }
  }

  private isFreeSlot(slot: number): boolean {
    return slot < this.highWater && this.alive[slot] === 0 && this.generations[slot] <= GENERATION_MAX;
  }

  private pushFree(slot: number): void {
    if (this.inHeap[slot] === 1 || this.generations[slot] > GENERATION_MAX) return;
    this.inHeap[slot] = 1;
    heapPush(this.freeHeap, slot);
  }

  private ensureCapacity(slotCount: number): void {
    if (slotCount <= this.generations.length) return;
    const capacity = Math.min(SLOT_COUNT_MAX, Math.max(slotCount, this.generations.length * 2));
    this.generations = grow(this.generations, new Uint32Array(capacity));
    this.alive = grow(this.alive, new Uint8Array(capacity));
    this.inHeap = grow(this.inHeap, new Uint8Array(capacity));
  }
}

function grow<T extends Uint8Array | Uint32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
