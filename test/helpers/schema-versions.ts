/**
 * Three versions of one game's components, for the schema evolution tests, and a directory in
 * version 1 with data both in a snapshot and in the WAL after it.
 *
 *   v1  Position { x f32, y f32 }   Health { hp i16 }        Name { value string }
 *       Legacy { code u8 }          Slots { v array<u8, 3> }
 *   v2  Position { x f32, y f32, z f32 } (added field)      Health { points i32 } (renamed and
 *       widened: migration 2)       Label { text string } (Name renamed: migration 2)
 *       Slots { v array<u16, 3> } (widened)    Velocity { dx f64 } (added)    Legacy removed
 *   v3  Position { x f64, y f64, z f64 } (widened)          Health { points i32, max i32 }
 *       (added field, filled by migration 3)   Label, Slots, Velocity as in v2
 */
import { defineComponent, open, t, type Database, type Migration, type OpenOptions } from '../../src/index.js';
import type { Storage } from '../../src/storage/storage.js';
import type { AnyComponentDef } from '../../src/schema/component.js';
import { HERMETIC, MANUAL_SNAPSHOTS } from './snapshot-dir.js';

export const V1 = {
  Position: defineComponent('Position', { x: t.f32, y: t.f32 }),
  Health: defineComponent('Health', { hp: t.i16 }),
  Name: defineComponent('Name', { value: t.string }),
  Legacy: defineComponent('Legacy', { code: t.u8 }),
  Slots: defineComponent('Slots', { v: t.array(t.u8, 3) }),
};
export const V1_COMPONENTS = [V1.Position, V1.Health, V1.Name, V1.Legacy, V1.Slots];

export const V2 = {
  Position: defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 }),
  Health: defineComponent('Health', { points: t.i32 }),
  Label: defineComponent('Label', { text: t.string }),
  Slots: defineComponent('Slots', { v: t.array(t.u16, 3) }),
  Velocity: defineComponent('Velocity', { dx: t.f64 }),
};
export const V2_COMPONENTS = [V2.Position, V2.Health, V2.Label, V2.Slots, V2.Velocity];

export const V3 = {
  Position: defineComponent('Position', { x: t.f64, y: t.f64, z: t.f64 }),
  Health: defineComponent('Health', { points: t.i32, max: t.i32 }),
  Label: V2.Label,
  Slots: V2.Slots,
  Velocity: V2.Velocity,
};
export const V3_COMPONENTS = [V3.Position, V3.Health, V3.Label, V3.Slots, V3.Velocity];

/** Migration to v2, written against the application's current Health and Label definitions. */
export function renameStep(Health: typeof V2.Health | typeof V3.Health, Label: typeof V2.Label): Migration {
  return (old, tx) => {
    for (const e of old.query('Health')) tx.set(e, Health, { points: old.get(e, 'Health')!.hp as number });
    for (const e of old.query('Name')) tx.add(e, Label, { text: old.get(e, 'Name')!.value as string });
  };
}

/** Migration to v3: max health is twice the points (read from the new world, after step 2). */
export const maxStep: Migration = (_old, tx) => {
  for (const e of tx.query(V3.Health)) tx.set(e, V3.Health, { max: tx.get(e, V3.Health)!.points * 2 });
};

export const V2_OPTIONS = { components: V2_COMPONENTS, schemaVersion: 2, migrations: { 2: renameStep(V2.Health, V2.Label) } };
export const V3_OPTIONS = { components: V3_COMPONENTS, schemaVersion: 3, migrations: { 2: renameStep(V3.Health, V3.Label), 3: maxStep } };

export const EVOLUTION_WAL = { segmentSizeBytesMax: 4096, flushIntervalMs: 60_000, batchSizeBytesMax: 1024 * 1024 };

export function openVersion(dir: string, storage: Storage | undefined, options: Partial<OpenOptions> & Pick<OpenOptions, 'components'>): Promise<Database> {
  return open({ ...HERMETIC, dir, storage, wal: EVOLUTION_WAL, snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256 }, ...options });
}

/**
 * Fills a v1 directory: 30 entities with every v1 component in some combination, a snapshot,
 * then 20 more commits (sets, removals, destroys, creations) that only the WAL holds. With
 * `snapshot: false` everything stays in the WAL.
 */
export async function populateV1(dir: string, storage: Storage | undefined, options: { snapshot?: boolean } = {}): Promise<void> {
  const db = await openVersion(dir, storage, { components: V1_COMPONENTS });
  const entities: number[] = [];
  for (let i = 0; i < 30; i++) {
    db.transact((tx) => {
      const e = tx.create();
      entities.push(e);
      tx.add(e, V1.Position, { x: i + 0.5, y: -i });
      if (i % 2 === 0) tx.add(e, V1.Health, { hp: i === 20 ? -32768 : i === 22 ? 32767 : i * 100 - 1000 });
      if (i % 3 === 0) tx.add(e, V1.Name, { value: `unit-${i}` });
      if (i % 4 === 0) tx.add(e, V1.Legacy, { code: 200 + (i % 50) });
      if (i % 5 === 0) tx.add(e, V1.Slots, { v: [i, 255, 0] });
    });
  }
  if (options.snapshot !== false) await db.snapshot();
  for (let i = 0; i < 20; i++) {
    db.transact((tx) => {
      const e = entities[i];
      if (i % 4 === 0 && tx.exists(e)) tx.destroy(e);
      else if (tx.has(e, V1.Health)) tx.set(e, V1.Health, { hp: -i * 7 });
      else if (tx.has(e, V1.Name)) tx.remove(e, V1.Name);
      else entities.push(tx.create());
    });
  }
  await db.close();
}

/** Every live entity with each listed component's value (null when absent), for equality. */
export function dumpWith(db: Database, components: readonly AnyComponentDef[]): unknown[] {
  return db.query().map((e) => [e, ...components.map((c) => db.get(e, c) ?? null)]);
}

/** The v1 world as the v2 application must see it after migrating (computed from a v1 dump). */
export function expectedV2(v1: unknown[]): unknown[] {
  return v1.map((row) => {
    const [e, position, health, name, , slots] = row as [number, { x: number; y: number } | null, { hp: number } | null, { value: string } | null, unknown, { v: number[] } | null];
    return [
      e,
      position === null ? null : { ...position, z: 0 },
      health === null ? null : { points: health.hp },
      name === null ? null : { text: name.value },
      slots,
      null,
    ];
  });
}

/** The v1 world as the v3 application must see it. */
export function expectedV3(v1: unknown[]): unknown[] {
  return expectedV2(v1).map((row) => {
    const [e, position, health, ...rest] = row as [number, unknown, { points: number } | null, ...unknown[]];
    return [e, position, health === null ? null : { points: health.points, max: health.points * 2 }, ...rest];
  });
}
