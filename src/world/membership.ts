/**
 * The bitecs 0.4 adapter: component membership and queries. ecsdb owns entity ids and column
 * storage; bitecs tracks which slot has which component and keeps query results live. The
 * bitecs entity id of an entity is its slot.
 *
 * bitecs allocates its own entity ids and recycles them in its own order, which differs from
 * ecsdb's deterministic allocator, so `addSlot` makes a chosen id alive in bitecs' entity index
 * directly. This relies on the entity-index layout of bitecs 0.4.0 (pinned exactly in
 * package.json); test/world/membership.test.ts fails if an upgrade changes it.
 */
import {
  $internal,
  addComponent,
  createWorld,
  entityExists,
  query,
  registerComponent,
  removeComponent,
  removeEntity,
  type World,
} from 'bitecs';
import { assert } from '../assert.js';

export type MembershipWorld = World;

interface EntityIndex {
  aliveCount: number;
  dense: number[];
  sparse: number[];
  maxId: number;
}

interface Internals {
  entityIndex: EntityIndex;
  entityComponents: Map<number, Set<unknown>>;
  notQueries: Set<unknown>;
}

export function createMembershipWorld(components: readonly object[]): MembershipWorld {
  const world = createWorld();
  for (const component of components) registerComponent(world, component);
  return world;
}

/** Makes `slot` a live bitecs entity with no components. */
export function addSlot(world: MembershipWorld, slot: number): void {
  const ctx = (world as unknown as Record<symbol, Internals>)[$internal];
  const index = ctx.entityIndex;
  assert(ctx.notQueries.size === 0, 'ecsdb registers no Not() queries');
  let position = index.sparse[slot];
  if (position === undefined || index.dense[position] !== slot) {
    position = index.dense.length;
    index.dense.push(slot);
    index.sparse[slot] = position;
  }
  if (position < index.aliveCount) return;
  // Swap the slot into the first dead position, then grow the alive range over it.
  const firstDead = index.aliveCount;
  const displaced = index.dense[firstDead];
  index.dense[firstDead] = slot;
  index.sparse[slot] = firstDead;
  index.dense[position] = displaced;
  index.sparse[displaced] = position;
  index.aliveCount++;
  if (slot > index.maxId) index.maxId = slot;
  ctx.entityComponents.set(slot, new Set());
}

/** Removes `slot` and all its memberships from bitecs. */
export function removeSlot(world: MembershipWorld, slot: number): void {
  removeEntity(world, slot);
}

export function slotExists(world: MembershipWorld, slot: number): boolean {
  return entityExists(world, slot);
}

export function addMembership(world: MembershipWorld, slot: number, component: object): void {
  addComponent(world, slot, component);
}

export function removeMembership(world: MembershipWorld, slot: number, component: object): void {
  removeComponent(world, slot, component);
}

/** The live bitecs result array of slots that have every component. Do not mutate it. */
export function querySlots(world: MembershipWorld, components: readonly object[]): readonly number[] {
  return query(world, components as object[]) as unknown as readonly number[];
}
