/**
 * Opening a directory with changed components (src/recovery/migrate.ts): each change kind that
 * needs no user code, declared migrations (renames, a narrowing), a throwing migration, the
 * refusals (SCHEMA_MISMATCH, a downgrade) leaving every byte of the directory as it was, chained
 * versions, and what the directory holds after a migration (replay across the schema change,
 * the next snapshot in the new schema, the older snapshot as a fallback).
 *
 * Every test runs on the simulated storage and on the real file system.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EcsdbError, defineComponent, t, type Database, type ErrorCode, type Migration } from '../../src/index.js';
import { readMeta } from '../../src/meta/meta-file.js';
import { BOTH_STORAGES, appendToFile, flipByte, readTree, segmentNames, segmentPath, type DirFixture } from '../helpers/db-dir.js';
import {
  V1,
  V1_COMPONENTS,
  V2,
  V2_COMPONENTS,
  V2_OPTIONS,
  V3,
  V3_COMPONENTS,
  V3_OPTIONS,
  dumpWith,
  expectedV2,
  expectedV3,
  maxStep,
  openVersion,
  populateV1,
  renameStep,
} from '../helpers/schema-versions.js';
import type { OpenOptions } from '../../src/index.js';

describe.each(BOTH_STORAGES)('schema evolution on $name', (kind) => {
  let fixture: DirFixture;
  /** The v1 world, as the v1 application sees it after populating. */
  let v1: unknown[];

  const openWith = (options: Partial<OpenOptions> & Pick<OpenOptions, 'components'>) => openVersion(fixture.dir, fixture.storage, options);

  beforeEach(async () => {
    fixture = await kind.create();
    await populateV1(fixture.dir, fixture.storage);
    const db = await openWith({ components: V1_COMPONENTS });
    v1 = dumpWith(db, V1_COMPONENTS);
    await db.close();
    expect(v1.length).toBeGreaterThan(20);
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  /** Opens with `options`, expects `code` (and every part in the message) and an unchanged directory. */
  async function expectRefusedUnchanged(options: Partial<OpenOptions> & Pick<OpenOptions, 'components'>, code: ErrorCode, parts: string[]): Promise<EcsdbError> {
    const before = await readTree(fixture.files, fixture.dir);
    const error = await openWith(options).then(
      (db) => db.close().then(() => expect.fail(`open() succeeded where ${code} was expected`)),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(EcsdbError);
    expect((error as EcsdbError).code, (error as Error).message).toBe(code);
    for (const part of parts) expect((error as EcsdbError).message).toContain(part);
    const after = await readTree(fixture.files, fixture.dir);
    expect(after.has('LOCK'), 'a failed open releases its lock').toBe(false);
    expect(after, 'every file byte for byte as before').toEqual(before);
    return error as EcsdbError;
  }

  /** A torn record at the end of the last segment: a refused open must not even cut it. */
  async function tearTail(): Promise<void> {
    const names = await segmentNames(fixture);
    await appendToFile(fixture.files, segmentPath(fixture, names[names.length - 1]), new Uint8Array([9, 0, 0, 0, 1, 2]));
  }

  test('an added field takes its default; every other value is kept', async () => {
    const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
    const components = [Position, V1.Health, V1.Name, V1.Legacy, V1.Slots];
    const db = await openWith({ components });
    expect(dumpWith(db, components)).toEqual(v1.map((row) => {
      const [e, position, ...rest] = row as [number, object | null, ...unknown[]];
      return [e, position === null ? null : { ...position, z: 0 }, ...rest];
    }));
    const report = db.recovery!.schemaMigration!;
    expect(report).toMatchObject({ fromVersion: 1, toVersion: 1, migrationsRun: [], addedFields: [{ component: 'Position', field: 'z' }], droppedFields: [] });
    expect(report.lsn).toBe(db.lsn);
    await db.close();
  });

  test('a removed field is dropped and reported with the number of entities that had it', async () => {
    const Position = defineComponent('Position', { x: t.f32 });
    const components = [Position, V1.Health, V1.Name, V1.Legacy, V1.Slots];
    const db = await openWith({ components });
    const withPosition = v1.filter((row) => (row as unknown[])[1] !== null).length;
    expect(db.recovery!.schemaMigration!.droppedFields).toEqual([{ component: 'Position', field: 'y', entityCount: withPosition }]);
    expect(dumpWith(db, components)).toEqual(v1.map((row) => {
      const [e, position, ...rest] = row as [number, { x: number } | null, ...unknown[]];
      return [e, position === null ? null : { x: position.x }, ...rest];
    }));
    await db.close();
  });

  test('an added component starts empty; a removed one is dropped and reported', async () => {
    const Added = defineComponent('Added', { n: t.u32 });
    const components = [Added, V1.Slots, V1.Name, V1.Position, V1.Health]; // reordered too
    const db = await openWith({ components });
    const report = db.recovery!.schemaMigration!;
    expect(report.addedComponents).toEqual(['Added']);
    const withLegacy = v1.filter((row) => (row as unknown[])[4] !== null).length;
    expect(withLegacy).toBeGreaterThan(0);
    expect(report.removedComponents).toEqual([{ component: 'Legacy', entityCount: withLegacy }]);
    expect(db.query(Added)).toEqual([]);
    expect(dumpWith(db, [V1.Position, V1.Health, V1.Name, V1.Slots])).toEqual(v1.map((row) => (row as unknown[]).filter((_, i) => i !== 4)));
    const e = db.query(V1.Position)[0];
    db.transact((tx) => tx.add(e, Added, { n: 7 }));
    await db.close();
    const again = await openWith({ components });
    expect(again.get(e, Added)).toEqual({ n: 7 });
    expect(again.recovery!.schemaMigration).toBeUndefined();
    await again.close();
  });

  test('widened numeric types and arrays keep every value exactly, extremes included', async () => {
    const Health = defineComponent('Health', { hp: t.f64 });
    const Slots = defineComponent('Slots', { v: t.array(t.i32, 3) });
    const Legacy = defineComponent('Legacy', { code: t.i16 });
    const components = [V1.Position, Health, V1.Name, Legacy, Slots];
    const db = await openWith({ components });
    expect(dumpWith(db, components)).toEqual(v1);
    const hps = db.query(Health).map((e) => db.get(e, Health)!.hp);
    expect(hps).toContain(-32768);
    expect(hps).toContain(32767);
    expect(db.recovery!.schemaMigration!.widenedFields).toEqual([
      { component: 'Health', field: 'hp', from: 'i16', to: 'f64' },
      { component: 'Legacy', field: 'code', from: 'u8', to: 'i16' },
      { component: 'Slots', field: 'v', from: 'array<u8, 3>', to: 'array<i32, 3>' },
    ]);
    await db.close();
  });

  test.each([
    ['a narrowed integer', defineComponent('Health', { hp: t.i8 }), 'component Health, field hp', 'i16 to i8'],
    ['a string to a number', defineComponent('Name', { value: t.u32 }), 'component Name, field value', 'string to u32'],
    ['a changed array length', defineComponent('Slots', { v: t.array(t.u8, 4) }), 'component Slots, field v', 'array<u8, 3> to array<u8, 4>'],
  ])('%s without a migration is SCHEMA_MISMATCH naming it; nothing on disk changes, not even a torn tail', async (_what, changed, where, types) => {
    await tearTail();
    const components = V1_COMPONENTS.map((def) => (def.name === changed.name ? changed : def));
    const error = await expectRefusedUnchanged({ components, schemaVersion: 2 }, 'SCHEMA_MISMATCH', [where, types, 'migrations']);
    expect(error.detail).toBe('needs-migration');
    // The same change at the stored version says to raise it.
    await expectRefusedUnchanged({ components }, 'SCHEMA_MISMATCH', [where, 'raise schemaVersion above 1']);
    // The old application still opens it, torn tail cut as usual.
    const db = await openWith({ components: V1_COMPONENTS });
    expect(db.recovery!.wal.tornTail).toBeDefined();
    expect(dumpWith(db, V1_COMPONENTS)).toEqual(v1);
    await db.close();
  });

  test('renames (of a field, of a component) and a widening through a declared migration', async () => {
    const db = await openWith(V2_OPTIONS);
    expect(dumpWith(db, V2_COMPONENTS)).toEqual(expectedV2(v1));
    const report = db.recovery!.schemaMigration!;
    expect(report).toMatchObject({ fromVersion: 1, toVersion: 2, migrationsRun: [2] });
    expect(report.removedComponents.map((r) => r.component).sort()).toEqual(['Legacy', 'Name']);
    expect(report.droppedFields).toEqual([{ component: 'Health', field: 'hp', entityCount: expect.any(Number) }]);
    expect([...report.addedComponents].sort()).toEqual(['Label', 'Velocity']);
    await db.close();
    const meta = (await readMeta(fixture.files, fixture.dir))!;
    expect(meta.schemaVersion).toBe(2);
    expect(meta.schemaHistory!.map((epoch) => [epoch.version, epoch.fromLsn])).toEqual([
      [1, 1],
      [2, report.lsn],
    ]);
  });

  test('a narrowing with a migration that clamps', async () => {
    const Health = defineComponent('Health', { hp: t.i8 });
    const components = V1_COMPONENTS.map((def) => (def.name === 'Health' ? Health : def));
    const clamp = (n: number) => Math.max(-128, Math.min(127, n));
    const db = await openWith({
      components,
      schemaVersion: 2,
      migrations: { 2: (old, tx) => old.query('Health').forEach((e) => tx.set(e, Health, { hp: clamp(old.get(e, 'Health')!.hp as number) })) },
    });
    expect(db.recovery!.schemaMigration!.resetFields).toEqual([{ component: 'Health', field: 'hp', from: 'i16', to: 'i8' }]);
    expect(dumpWith(db, components)).toEqual(v1.map((row) => (row as unknown[]).map((value, i) => (i === 2 && value !== null ? { hp: clamp((value as { hp: number }).hp) } : value))));
    await db.close();
  });

  test('a migration that throws fails with MIGRATION_FAILED and changes nothing on disk', async () => {
    await tearTail();
    const error = await expectRefusedUnchanged(
      {
        ...V2_OPTIONS,
        migrations: {
          2: (old, tx) => {
            renameStep(V2.Health, V2.Label)(old, tx);
            throw new Error('bad data in save');
          },
        },
      },
      'MIGRATION_FAILED',
      ['schema version 2', 'bad data in save', 'nothing on disk was changed'],
    );
    expect((error.cause as Error).message).toBe('bad data in save');
    const db = await openWith(V2_OPTIONS);
    expect(dumpWith(db, V2_COMPONENTS)).toEqual(expectedV2(v1));
    await db.close();
  });

  test('a migration reading an unknown old component fails naming the stored ones', async () => {
    await expectRefusedUnchanged(
      { ...V2_OPTIONS, migrations: { 2: (old) => void old.query('Nope') } },
      'MIGRATION_FAILED',
      ['no component Nope', 'Position, Health, Name, Legacy, Slots'],
    );
  });

  test('opening a migrated directory with a lower schemaVersion is SCHEMA_MISMATCH (downgrade), unchanged', async () => {
    await (await openWith(V2_OPTIONS)).close();
    const error = await expectRefusedUnchanged({ components: V1_COMPONENTS }, 'SCHEMA_MISMATCH', ['schema version 2', 'schemaVersion 1']);
    expect(error.detail).toBe('downgrade');
  });

  test('chained versions: 1 → 2 → 3 step by step equals 1 → 3 at once, each step run once', async () => {
    const runs: [number, number][] = [];
    const counted = (version: number, step: Migration): Migration => (old, tx) => {
      runs.push([version, old.version]);
      step(old, tx);
    };
    const two = await openWith({ ...V2_OPTIONS, migrations: { 2: counted(2, renameStep(V2.Health, V2.Label)) } });
    await two.close();
    const three = await openWith({ ...V3_OPTIONS, migrations: { 2: counted(2, renameStep(V3.Health, V3.Label)), 3: counted(3, maxStep) } });
    expect(runs, '[step, stored version it started from]').toEqual([
      [2, 1],
      [3, 2],
    ]);
    expect(three.recovery!.schemaMigration).toMatchObject({ fromVersion: 2, toVersion: 3, migrationsRun: [3] });
    const stepwise = dumpWith(three, V3_COMPONENTS);
    await three.close();
    expect(stepwise).toEqual(expectedV3(v1));

    const direct = await kind.create();
    try {
      await populateV1(direct.dir, direct.storage);
      const db = await openVersion(direct.dir, direct.storage, V3_OPTIONS);
      expect(db.recovery!.schemaMigration).toMatchObject({ fromVersion: 1, toVersion: 3, migrationsRun: [2, 3] });
      expect(dumpWith(db, V3_COMPONENTS)).toEqual(stepwise);
      await db.close();
      const meta = (await readMeta(direct.files, direct.dir))!;
      expect(meta.schemaHistory!.map((epoch) => epoch.version)).toEqual([1, 3]);
    } finally {
      await direct.cleanup();
    }
  });

  test('after migrating: replay crosses the schema change, the next snapshot is in the new schema, the old one still serves', async () => {
    const db = await openWith(V2_OPTIONS);
    const migrationLsn = db.lsn;
    const e = db.query(V2.Health)[0];
    db.transact((tx) => tx.set(e, V2.Health, { points: 123456 }));
    await db.close();
    const expected = expectedV2(v1).map((row) => ((row as unknown[])[0] === e ? (row as unknown[]).map((value, i) => (i === 2 ? { points: 123456 } : value)) : row));

    // The v1 snapshot, then v1 records, the conversion at the migration record, v2 records.
    const replayed = await openWith(V2_OPTIONS);
    expect(replayed.recovery!.snapshot!.endLsn).toBeLessThan(migrationLsn);
    expect(replayed.recovery!.schemaMigration).toBeUndefined();
    expect(dumpWith(replayed, V2_COMPONENTS)).toEqual(expected);
    const snapshot = await replayed.snapshot();
    expect(snapshot.startLsn).toBeGreaterThanOrEqual(migrationLsn);
    await replayed.close();

    const fromNew = await openWith(V2_OPTIONS);
    expect(fromNew.recovery!.snapshot!.file).toBe(snapshot.file);
    expect(dumpWith(fromNew, V2_COMPONENTS)).toEqual(expected);
    await fromNew.close();

    // Damage the new snapshot: recovery falls back to the v1 one and replays across the change.
    await flipByte(fixture.files, join(fixture.dir, 'snapshots', snapshot.file), 200);
    const fallback = await openWith(V2_OPTIONS);
    expect(fallback.recovery!.skippedSnapshots.map((s) => s.file)).toEqual([snapshot.file]);
    expect(dumpWith(fallback, V2_COMPONENTS)).toEqual(expected);
    await fallback.close();
  });

  test('a data-only migration: same components, a higher version, the step runs once', async () => {
    let runs = 0;
    const dropLegacy: Migration = (old, tx) => {
      runs++;
      for (const id of old.query('Legacy')) tx.remove(id, V1.Legacy);
    };
    const options = { components: V1_COMPONENTS, schemaVersion: 2, migrations: { 2: dropLegacy } };
    const db = await openWith(options);
    expect(db.query(V1.Legacy)).toEqual([]);
    await db.close();
    const again = await openWith(options);
    expect(runs).toBe(1);
    expect(again.query(V1.Legacy)).toEqual([]);
    expect(dumpWith(again, V1_COMPONENTS)).toEqual(v1.map((row) => (row as unknown[]).map((value, i) => (i === 4 ? null : value))));
    await again.close();
  });
});

describe('schema evolution without any snapshot', () => {
  test('replay from LSN 1 converts at the migration record', async () => {
    const fixture = await BOTH_STORAGES[0].create();
    await populateV1(fixture.dir, fixture.storage, { snapshot: false });
    let db: Database = await openVersion(fixture.dir, fixture.storage, { components: V1_COMPONENTS });
    const v1 = dumpWith(db, V1_COMPONENTS);
    await db.close();
    db = await openVersion(fixture.dir, fixture.storage, V3_OPTIONS);
    await db.close();
    db = await openVersion(fixture.dir, fixture.storage, V3_OPTIONS);
    expect(db.recovery!.snapshot).toBeUndefined();
    expect(db.recovery!.wal.firstLsn).toBe(1);
    expect(dumpWith(db, V3_COMPONENTS)).toEqual(expectedV3(v1));
    await db.close();
    expect(V3.Position.fields.x.kind).toBe('f64');
  });
});

describe('open() options of schema evolution', () => {
  test.each([
    [{ schemaVersion: 0 }, 'schemaVersion'],
    [{ schemaVersion: 1.5 }, 'schemaVersion'],
    [{ schemaVersion: 2, migrations: { 3: () => undefined } }, 'migrations["3"]'],
    [{ schemaVersion: 2, migrations: { 1: () => undefined } }, 'migrations["1"]'],
    [{ schemaVersion: 2, migrations: { 2: 'no' } }, 'migrations[2] must be a function'],
  ])('%j is INVALID_ARGUMENT', async (options, part) => {
    const fixture = await BOTH_STORAGES[0].create();
    const error = await openVersion(fixture.dir, fixture.storage, { components: V2_COMPONENTS, ...(options as object) }).then(
      () => expect.fail('open() succeeded'),
      (caught: unknown) => caught as EcsdbError,
    );
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain(part);
    expect(await fixture.files.stat(fixture.dir), 'checked before the directory is created').toBeUndefined();
  });

  test('a new directory records the declared version; migrations do not run for it', async () => {
    const fixture = await BOTH_STORAGES[0].create();
    let ran = false;
    const db = await openVersion(fixture.dir, fixture.storage, { components: V3_COMPONENTS, schemaVersion: 3, migrations: { 3: () => void (ran = true) } });
    expect(db.recovery!.schemaMigration).toBeUndefined();
    await db.close();
    expect(ran).toBe(false);
    expect((await readMeta(fixture.files, fixture.dir))!.schemaVersion).toBe(3);
  });
});
