/**
 * Time travel across a schema migration: a view of a point before the migration is built in the
 * schema of that point (the old definitions, or `components: 'stored'`), the current
 * definitions are refused there with SCHEMA_MISMATCH, and points after it use the new ones, built
 * from the snapshot taken before the migration: the world is converted and the migration's
 * record applied, as recovery does.
 */
import { describe, expect, it } from 'vitest';
import { defineComponent, open, openAt, t } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { HERMETIC } from '../helpers/snapshot-dir.js';

const DIR = '/data';
const HealthV1 = defineComponent('Health', { hp: t.i16 });
const HealthV2 = defineComponent('Health', { points: t.i32, max: t.i32 });
const KEEP_ALL = { segmentCountMax: 0, sizeBytesMax: 0 };

async function migratedDirectory(storage: SimulatedStorage): Promise<{ hero: number; migratedAt: number; lastLsn: number }> {
  let db = await open({ ...HERMETIC, storage, dir: DIR, components: [HealthV1] });
  const hero = db.transact((tx) => {
    const e = tx.create();
    tx.add(e, HealthV1, { hp: 10 });
    return e;
  }).value;
  for (let hp = 11; hp <= 20; hp++) db.transact((tx) => tx.set(hero, HealthV1, { hp }));
  await db.snapshot();
  db.transact((tx) => tx.set(hero, HealthV1, { hp: 21 }));
  const beforeMigration = db.lsn;
  await db.close();
  db = await open({
    ...HERMETIC,
    storage,
    dir: DIR,
    components: [HealthV2],
    schemaVersion: 2,
    migrations: { 2: (old, tx) => tx.set(hero, HealthV2, { points: Number(old.get(hero, 'Health')?.hp) * 10, max: 500 }) },
  });
  db.transact((tx) => tx.set(hero, HealthV2, { points: 300 }));
  const lastLsn = db.lsn;
  await db.close();
  return { hero, migratedAt: beforeMigration + 1, lastLsn };
}

describe('time travel across a schema migration', () => {
  it('builds each point in its own schema and refuses definitions of another one', async () => {
    const storage = new SimulatedStorage({ seed: 5 });
    const { hero, migratedAt, lastLsn } = await migratedDirectory(storage);
    const common = { storage, dir: DIR };

    // Before the migration: the old definitions (from the snapshot, and from the WAL start).
    for (const lsn of [1, 5, 11, migratedAt - 1]) {
      const view = await openAt({ ...common, components: [HealthV1], lsn });
      try {
        expect(view.get(hero, HealthV1)).toEqual({ hp: 10 + lsn - 1 });
      } finally {
        await view.close();
      }
      await expect(openAt({ ...common, components: [HealthV2], lsn })).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' });
    }

    // 'stored' builds the point's own definitions, as the CLI does.
    const stored = await openAt({ ...common, components: 'stored', lsn: migratedAt - 1 });
    try {
      expect(stored.stateHash()).toBe((await openAt({ ...common, components: [HealthV1], lsn: migratedAt - 1 })).stateHash());
    } finally {
      await stored.close();
    }

    // From the migration on: the new definitions.
    const migrated = await openAt({ ...common, components: [HealthV2], lsn: migratedAt });
    expect(migrated.get(hero, HealthV2)).toEqual({ points: 210, max: 500 });
    await migrated.close();
    const last = await openAt({ ...common, components: [HealthV2], lsn: lastLsn });
    expect(last.get(hero, HealthV2)).toEqual({ points: 300, max: 500 });
    await last.close();
    await expect(openAt({ ...common, components: [HealthV1], lsn: lastLsn })).rejects.toMatchObject({ code: 'SCHEMA_MISMATCH' });
  });
});
