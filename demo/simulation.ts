/**
 * A small deterministic game world for the demo: units spawn, move, pick targets, damage each
 * other and despawn when their health runs out. Every tick is one transaction. Given the same
 * seed and the same starting world, the ticks make exactly the same changes, so the demo can
 * rebuild in memory the world that any recovered LSN must hold and compare the two.
 */
import { defineComponent, t, type Database, type Transaction } from '../src/index.js';

export const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
export const Velocity = defineComponent('Velocity', { dx: t.f32, dy: t.f32, dz: t.f32 });
export const Health = defineComponent('Health', { hp: t.i32, max: t.i32 });
export const Name = defineComponent('Name', { value: t.string });
export const Target = defineComponent('Target', { entity: t.entity });
export const Inventory = defineComponent('Inventory', { slots: t.array(t.u16, 4), gold: t.u32 });
export const Frozen = defineComponent('Frozen', {});

export const COMPONENTS = [Position, Velocity, Health, Name, Target, Inventory, Frozen];

/** A tiny seeded generator (mulberry32); the simulation must not use Math.random. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** One tick: always changes the world, so every tick is exactly one LSN. */
export function tick(tx: Transaction, tickIndex: number): void {
  const random = seededRandom(tickIndex * 7919 + 17);
  const units = tx.query(Position, Health);
  const spawnCount = units.length < 200 ? 8 : 2;
  for (let i = 0; i < spawnCount; i++) spawn(tx, random, tickIndex, i, units);
  for (const unit of tx.query(Position, Velocity)) {
    if (tx.has(unit, Frozen)) continue;
    const p = tx.get(unit, Position)!;
    const v = tx.get(unit, Velocity)!;
    tx.set(unit, Position, { x: p.x + v.dx, y: p.y + v.dy, z: p.z + v.dz });
  }
  for (const unit of tx.query(Target, Health)) {
    const target = tx.get(unit, Target)!.entity;
    if (target === null || !tx.exists(target)) {
      tx.set(unit, Target, { entity: null });
      continue;
    }
    const hp = tx.get(target, Health);
    if (hp !== undefined) tx.set(target, Health, { hp: hp.hp - 1 - Math.floor(random() * 5) });
  }
  for (const unit of tx.query(Health)) {
    if (tx.get(unit, Health)!.hp <= 0) tx.destroy(unit);
  }
  if (units.length > 0 && random() < 0.3) {
    const unit = units[Math.floor(random() * units.length)];
    if (tx.exists(unit)) {
      if (tx.has(unit, Frozen)) tx.remove(unit, Frozen);
      else tx.add(unit, Frozen);
    }
  }
}

function spawn(tx: Transaction, random: () => number, tickIndex: number, index: number, others: readonly number[]): void {
  const e = tx.create();
  tx.add(e, Position, { x: random() * 100, y: random() * 100, z: 0 });
  tx.add(e, Velocity, { dx: random() - 0.5, dy: random() - 0.5, dz: 0 });
  tx.add(e, Health, { hp: 20 + Math.floor(random() * 30), max: 50 });
  tx.add(e, Name, { value: `unit-${tickIndex}-${index}` });
  const target = others.length > 0 ? others[Math.floor(random() * others.length)] : null;
  tx.add(e, Target, { entity: target !== null && tx.exists(target) ? target : null });
  tx.add(e, Inventory, { slots: [index, tickIndex % 65536, 0, 7], gold: Math.floor(random() * 1000) });
}

/** The whole world as plain data, for comparing two databases. */
export function dumpWorld(db: Database): unknown[] {
  return db.query().map((entity) => ({
    entity,
    components: Object.fromEntries(COMPONENTS.filter((c) => db.has(entity, c)).map((c) => [c.name, db.get(entity, c)])),
  }));
}
