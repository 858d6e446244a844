/**
 * The bitecs adapter makes chosen slots alive by editing bitecs 0.4.0's entity index directly.
 * These tests fail if a bitecs upgrade changes the layout that relies on.
 */
import { describe, expect, it } from 'vitest';
import { $internal, addEntity, createWorld } from 'bitecs';
import {
  addMembership,
  addSlot,
  createMembershipWorld,
  querySlots,
  removeMembership,
  removeSlot,
  slotExists,
} from '../../src/world/membership.js';

const A = { name: 'A' };
const B = { name: 'B' };

function sorted(rows: readonly number[]): number[] {
  return [...rows].sort((a, b) => a - b);
}

describe('bitecs membership adapter', () => {
  it('finds the entity-index layout it edits in bitecs', () => {
    const world = createWorld();
    const index = (world as unknown as Record<symbol, { entityIndex: Record<string, unknown> }>)[$internal].entityIndex;
    expect(index).toMatchObject({ aliveCount: 0, dense: [], sparse: [], maxId: 0 });
    const eid = addEntity(world);
    expect(index.dense).toEqual([eid]);
    expect(index.aliveCount).toBe(1);
  });

  it('makes chosen slots alive in any order, slot 0 included', () => {
    const world = createMembershipWorld([A, B]);
    for (const slot of [5, 0, 2]) addSlot(world, slot);
    expect([0, 1, 2, 3, 4, 5].map((slot) => slotExists(world, slot))).toEqual([true, false, true, false, false, true]);
  });

  it('adding a live slot again changes nothing', () => {
    const world = createMembershipWorld([A]);
    addSlot(world, 3);
    addMembership(world, 3, A);
    addSlot(world, 3);
    expect(slotExists(world, 3)).toBe(true);
    expect(sorted(querySlots(world, [A]))).toEqual([3]);
  });

  it('queries the slots that have every component', () => {
    const world = createMembershipWorld([A, B]);
    for (const slot of [0, 1, 2, 3]) addSlot(world, slot);
    addMembership(world, 0, A);
    addMembership(world, 1, A);
    addMembership(world, 1, B);
    addMembership(world, 3, B);
    expect(sorted(querySlots(world, [A]))).toEqual([0, 1]);
    expect(sorted(querySlots(world, [B]))).toEqual([1, 3]);
    expect(sorted(querySlots(world, [A, B]))).toEqual([1]);
    removeMembership(world, 1, B);
    expect(sorted(querySlots(world, [A, B]))).toEqual([]);
  });

  it('removing a slot drops it from every query, and it can come back empty', () => {
    const world = createMembershipWorld([A, B]);
    for (const slot of [0, 1, 2]) {
      addSlot(world, slot);
      addMembership(world, slot, A);
    }
    removeSlot(world, 1);
    expect(slotExists(world, 1)).toBe(false);
    expect(sorted(querySlots(world, [A]))).toEqual([0, 2]);
    addSlot(world, 1);
    expect(slotExists(world, 1)).toBe(true);
    expect(sorted(querySlots(world, [A]))).toEqual([0, 2]);
    addMembership(world, 1, B);
    expect(sorted(querySlots(world, [B]))).toEqual([1]);
  });

  it('keeps every other slot alive when slots are removed and re-added in random order', () => {
    const world = createMembershipWorld([A]);
    const alive = new Set<number>();
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 64;
    for (let step = 0; step < 2000; step++) {
      const slot = next();
      if (alive.has(slot)) {
        removeSlot(world, slot);
        alive.delete(slot);
      } else {
        addSlot(world, slot);
        addMembership(world, slot, A);
        alive.add(slot);
      }
    }
    for (let slot = 0; slot < 64; slot++) expect(slotExists(world, slot)).toBe(alive.has(slot));
    expect(sorted(querySlots(world, [A]))).toEqual([...alive].sort((a, b) => a - b));
  });

  // Without a query the adapter keeps memberships in the masks itself (no bitecs call); once a
  // query exists it goes through bitecs. Both must give the same answers at every point.
  it.each<[string, object[][]]>([
    ['no query until the end', []],
    ['queries on A, B and both along the way', [[A], [B], [A, B]]],
    ['a query on A only along the way: B unwatched until the end', [[A]]],
  ])('agrees with a model under random adds, removals and destroys (%s)', (_label, alongTheWay) => {
    const world = createMembershipWorld([A, B]);
    const model = new Map<number, Set<object>>();
    let seed = 777;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const expectQueries = (queries: object[][]): void => {
      for (const components of queries) {
        const expected = [...model].filter(([, has]) => components.every((c) => has.has(c))).map(([slot]) => slot);
        expect(sorted(querySlots(world, components))).toEqual(sorted(expected));
      }
    };
    for (let step = 0; step < 3000; step++) {
      const slot = Math.floor(random() * 48);
      const component = random() < 0.5 ? A : B;
      const has = model.get(slot);
      const roll = random();
      if (has === undefined) {
        addSlot(world, slot);
        model.set(slot, new Set());
      } else if (roll < 0.15) {
        removeSlot(world, slot); // with whatever memberships it has: it must come back empty
        model.delete(slot);
      } else if (roll < 0.6) {
        addMembership(world, slot, component);
        has.add(component);
      } else {
        removeMembership(world, slot, component);
        has.delete(component);
      }
      if (alongTheWay.length > 0 && random() < 0.02) expectQueries(alongTheWay);
    }
    for (let slot = 0; slot < 48; slot++) expect(slotExists(world, slot)).toBe(model.has(slot));
    expectQueries([[A], [B], [A, B]]);
  });
});
