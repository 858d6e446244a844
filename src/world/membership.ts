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
  versioning?: boolean;
}

interface ComponentData {
  generationId: number;
  bitflag: number;
  queries: Set<unknown>;
}

interface Internals {
  entityIndex: EntityIndex;
  entityComponents: Map<number, Set<unknown>>;
  entityMasks: number[][];
  componentMap: Map<object, ComponentData>;
  queries: Set<unknown>;
  notQueries: Set<unknown>;
  entitiesWithRelations: Set<unknown>;
}

/** A Set that stays empty: what bitecs' per-entity component sets become. */
class EmptySet extends Set<unknown> {
  override add(): this {
    return this;
  }
}

const EMPTY_SET = new EmptySet();

const NO_ENTITY_COMPONENTS = {
  get: () => EMPTY_SET,
  set() {
    return NO_ENTITY_COMPONENTS;
  },
  delete: () => true,
  has: () => true,
  keys: () => [][Symbol.iterator](),
} as unknown as Map<number, Set<unknown>>;

function internals(world: MembershipWorld): Internals {
  return (world as unknown as Record<symbol, Internals>)[$internal];
}

export function createMembershipWorld(components: readonly object[]): MembershipWorld {
  const world = createWorld();
  internals(world).entityComponents = NO_ENTITY_COMPONENTS;
  for (const component of components) registerComponent(world, component);
  return world;
}

/** Makes `slot` a live bitecs entity with no components. */
export function addSlot(world: MembershipWorld, slot: number): void {
  const ctx = internals(world);
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
}

/**
 * Bulk load into a world with no live entity yet: makes every slot in `slots` (ascending) live.
 * Used when a snapshot loads; one pass instead of a swap per slot.
 */
export function addSlotsToEmptyWorld(world: MembershipWorld, slots: readonly number[]): void {
  const index = internals(world).entityIndex;
  assert(index.aliveCount === 0 && index.dense.length === 0, 'bulk slot load needs an empty world');
  for (let i = 0; i < slots.length; i++) {
    index.dense.push(slots[i]);
    index.sparse[slots[i]] = i;
  }
  index.aliveCount = slots.length;
  index.maxId = slots.length > 0 ? slots[slots.length - 1] : 0;
}

/**
 * Bulk membership: gives every live slot in `slots` the component. Before any query exists for
 * the component (a snapshot load), only the entity bitmasks need setting; queries registered
 * later scan those masks. Otherwise it falls back to bitecs' addComponent per slot.
 */
export function addMembershipBulk(world: MembershipWorld, slots: readonly number[], component: object): void {
  const ctx = internals(world);
  const data = unwatched(ctx, component);
  if (data === undefined) {
    for (const slot of slots) addComponent(world, slot, component);
    return;
  }
  const masks = ctx.entityMasks[data.generationId];
  for (const slot of slots) masks[slot] = (masks[slot] ?? 0) | data.bitflag;
}

/**
 * Removes `slot` and all its memberships from bitecs. With no query registered (and ecsdb
 * registers no relations), that is bitecs' removeEntityId and clearing the masks, done here:
 * bitecs' removeEntity allocates two arrays and a Set per call for its relation walk.
 */
export function removeSlot(world: MembershipWorld, slot: number): void {
  const ctx = internals(world);
  if (ctx.queries.size > 0 || ctx.entitiesWithRelations.size > 0) {
    removeEntity(world, slot);
    return;
  }
  const index = ctx.entityIndex;
  assert(index.versioning !== true, 'bitecs entity versioning is off');
  const position = index.sparse[slot];
  if (position === undefined || position >= index.aliveCount || index.dense[position] !== slot) return;
  // Swap the slot with the last alive one, then shrink the alive range over it.
  const last = index.aliveCount - 1;
  const lastSlot = index.dense[last];
  index.sparse[lastSlot] = position;
  index.dense[position] = lastSlot;
  index.sparse[slot] = last;
  index.dense[last] = slot;
  index.aliveCount--;
  for (const masks of ctx.entityMasks) masks[slot] = 0;
}

export function slotExists(world: MembershipWorld, slot: number): boolean {
  return entityExists(world, slot);
}

/**
 * The component's bitecs record when no query watches it yet: then the entity's bitmask is all
 * bitecs keeps of a membership (a query registered later scans the masks, as after a bulk
 * load). bitecs' addComponent and removeComponent allocate a closure per call for their walk
 * over the queries even when there are none: ~114 bytes per `tx.add` (V8's sampling heap
 * profiler over 1,000,000 creates with three adds each), garbage a game spawning entities
 * would collect.
 */
function unwatched(ctx: Internals, component: object): ComponentData | undefined {
  const data = ctx.componentMap.get(component);
  assert(data !== undefined, 'component registered at world creation');
  return data.queries.size === 0 ? data : undefined;
}

export function addMembership(world: MembershipWorld, slot: number, component: object): void {
  setMembership(world, slot, component, true);
}

export function removeMembership(world: MembershipWorld, slot: number, component: object): void {
  setMembership(world, slot, component, false);
}

function setMembership(world: MembershipWorld, slot: number, component: object, member: boolean): void {
  const ctx = internals(world);
  const data = unwatched(ctx, component);
  if (data === undefined) {
    if (member) addComponent(world, slot, component);
    else removeComponent(world, slot, component);
    return;
  }
  const masks = ctx.entityMasks[data.generationId];
  const mask = masks[slot] ?? 0;
  masks[slot] = member ? mask | data.bitflag : mask & ~data.bitflag;
}

/** The live bitecs result array of slots that have every component. Do not mutate it. */
export function querySlots(world: MembershipWorld, components: readonly object[]): readonly number[] {
  return query(world, components as object[]) as unknown as readonly number[];
}
