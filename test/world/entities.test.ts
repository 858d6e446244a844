import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EntityRegistry } from '../../src/world/entities.js';
import { GENERATION_MAX, SLOT_COUNT_MAX, entityIdOf } from '../../src/world/entity-id.js';
import { expectEcsdbError } from '../helpers/errors.js';

/** Creates an entity the way a transaction does: allocate a slot, then make it alive. */
function create(registry: EntityRegistry): number {
  const slot = registry.allocate();
  const generation = slot < registry.highWater ? registry.generations[slot] : 0;
  registry.setSlot(slot, generation, true);
  return entityIdOf(slot, generation);
}

function destroy(registry: EntityRegistry, id: number): void {
  const slot = id % SLOT_COUNT_MAX;
  registry.setSlot(slot, registry.generations[slot] + 1, false);
}

/** A random history of creates and destroys; a destroy picks a live entity by index. */
const historyArb = fc.array(fc.oneof(fc.constant<'create'>('create'), fc.nat({ max: 50 })), { maxLength: 200 });

function runHistory(registry: EntityRegistry, history: readonly ('create' | number)[]): number[] {
  const live: number[] = [];
  const created: number[] = [];
  for (const step of history) {
    if (step === 'create') {
      const id = create(registry);
      live.push(id);
      created.push(id);
    } else if (live.length > 0) {
      const [id] = live.splice(step % live.length, 1);
      destroy(registry, id);
    }
  }
  return created;
}

describe('EntityRegistry', () => {
  it('hands out slots 0, 1, 2 … at generation 0 in a fresh registry', () => {
    const registry = new EntityRegistry();
    expect([create(registry), create(registry), create(registry)]).toEqual([0, 1, 2]);
    expect(registry.liveCount).toBe(3);
  });

  it('reuses the lowest free slot at the next generation', () => {
    const registry = new EntityRegistry();
    const ids = [0, 1, 2, 3].map(() => create(registry));
    destroy(registry, ids[2]);
    destroy(registry, ids[1]);
    expect(create(registry)).toBe(entityIdOf(1, 1));
    expect(create(registry)).toBe(entityIdOf(2, 1));
    expect(create(registry)).toBe(4);
  });

  it('allocates deterministically: the same history yields the same ids', () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        expect(runHistory(new EntityRegistry(), history)).toEqual(runHistory(new EntityRegistry(), history));
      }),
    );
  });

  it('never hands out an id twice', () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const created = runHistory(new EntityRegistry(), history);
        expect(new Set(created).size).toBe(created.length);
      }),
    );
  });

  it('detects the stale id of a destroyed entity, also after its slot is reused', () => {
    const registry = new EntityRegistry();
    const stale = create(registry);
    destroy(registry, stale);
    expect(registry.isAlive(stale)).toBe(false);
    const reused = create(registry);
    expect(reused % SLOT_COUNT_MAX).toBe(stale % SLOT_COUNT_MAX);
    expect(reused).not.toBe(stale);
    expect(registry.isAlive(reused)).toBe(true);
    expect(registry.isAlive(stale)).toBe(false);
    expect(registry.describeDeadId(stale)).toBe(`entity ${stale} was destroyed`);
  });

  it('explains why an id is not alive', () => {
    const registry = new EntityRegistry();
    create(registry);
    expect(registry.describeDeadId(5)).toBe('entity 5 was never created');
    expect(registry.describeDeadId(entityIdOf(0, 3))).toContain('was never created (slot 0 is at generation 0)');
    expect(registry.describeDeadId(-1)).toContain('is not an entity id');
    expect(registry.describeDeadId('x')).toContain('is not an entity id');
  });

  it('grows past its initial capacity of 1024 slots', () => {
    const registry = new EntityRegistry();
    const ids = Array.from({ length: 3000 }, () => create(registry));
    expect(ids[2999]).toBe(2999);
    expect(ids.every((id) => registry.isAlive(id))).toBe(true);
  });

  it('retires a slot whose generation passes GENERATION_MAX', () => {
    const registry = new EntityRegistry();
    create(registry);
    create(registry);
    registry.setSlot(0, GENERATION_MAX, true);
    destroy(registry, entityIdOf(0, GENERATION_MAX));
    expect(registry.generations[0]).toBe(GENERATION_MAX + 1);
    expect(create(registry)).toBe(2);
  });

  it('fills the gap below a slot set out of order (replay) with free slots', () => {
    const registry = new EntityRegistry();
    registry.setSlot(3, 2, true);
    expect(registry.highWater).toBe(4);
    expect([create(registry), create(registry), create(registry), create(registry)]).toEqual([0, 1, 2, 4]);
  });

  it('shrinkHighWater undoes allocations of never-used slots', () => {
    const registry = new EntityRegistry();
    create(registry);
    const before = registry.exportState();
    const id = create(registry);
    registry.setSlot(id, 0, false);
    registry.shrinkHighWater(before.highWater);
    expect(registry.exportState()).toEqual(before);
    expect(create(registry)).toBe(1);
  });

  it('throws TOO_MANY_ENTITIES when every slot is used', () => {
    const registry = new EntityRegistry();
    registry.importState({
      highWater: SLOT_COUNT_MAX,
      generations: new Uint32Array(SLOT_COUNT_MAX),
      alive: new Uint8Array(SLOT_COUNT_MAX).fill(1),
    });
    expectEcsdbError(() => registry.allocate(), 'TOO_MANY_ENTITIES');
  });
});

describe('EntityRegistry state export and import', () => {
  it('round-trips exactly', () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const registry = new EntityRegistry();
        runHistory(registry, history);
        const copy = new EntityRegistry();
        copy.importState(registry.exportState());
        expect(copy.exportState()).toEqual(registry.exportState());
        expect(copy.liveCount).toBe(registry.liveCount);
      }),
    );
  });

  it('continues allocating exactly as the original does', () => {
    fc.assert(
      fc.property(historyArb, historyArb, (history, future) => {
        const registry = new EntityRegistry();
        runHistory(registry, history);
        const copy = new EntityRegistry();
        copy.importState(registry.exportState());
        expect(runHistory(copy, future)).toEqual(runHistory(registry, future));
        expect(copy.exportState()).toEqual(registry.exportState());
      }),
    );
  });

  it('exports copies, not views of the live arrays', () => {
    const registry = new EntityRegistry();
    create(registry);
    const state = registry.exportState();
    destroy(registry, 0);
    expect(Array.from(state.alive)).toEqual([1]);
    expect(Array.from(state.generations)).toEqual([0]);
  });

  it('keeps retired slots retired after import', () => {
    const registry = new EntityRegistry();
    registry.importState({
      highWater: 2,
      generations: Uint32Array.from([GENERATION_MAX + 1, 5]),
      alive: Uint8Array.from([0, 0]),
    });
    expect(create(registry)).toBe(entityIdOf(1, 5));
    expect(create(registry)).toBe(2);
  });
});
