/**
 * A world recovered from a snapshot plus its WAL tail is the world that wrote it, field by
 * field: every live entity id, every component (tags included), every field value bit for bit
 * (-0, NaN, ±Infinity, f32 rounding, integer extremes, empty / long / non-ASCII strings,
 * entity references including dangling ones, fixed-length arrays), the zero-copy read path
 * (queryRows, entityAt, columns), and the entity allocator: destroyed slots keep their
 * generations, so the ids the next creates hand out are the same on both.
 *
 * The original database stays open: its directory is copied as a process crash would leave it
 * after a flush, the copy is opened, and both are compared and then made to create entities.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { AnyComponentDef } from '../../src/schema/component.js';
import type { FieldType } from '../../src/schema/types.js';
import type { Database, Entity, Transaction } from '../../src/index.js';
import { BOTH_STORAGES, SMALL_WAL, openFixture, type DirFixture } from '../helpers/db-dir.js';
import { AllTypes, Frozen, Health, Name, Position, Target } from '../helpers/fixtures.js';
import { WORKLOAD_COMPONENTS } from '../helpers/workload.js';
import { HERMETIC, MANUAL_SNAPSHOTS, copyFixture } from '../helpers/snapshot-dir.js';

const STRINGS = ['', 'plain', 'ü€😀', 'line\nbreak\ttab\u0000nul', 'x'.repeat(300), '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 '.repeat(20)];

/** 700 entities (three chunks of 256 slots) with every field type and awkward values. */
function populate(tx: Transaction): Entity[] {
  const ids: Entity[] = [];
  for (let i = 0; i < 700; i++) {
    const e = tx.create();
    ids.push(e);
    tx.add(e, Position, { x: i * 0.5, y: i % 11 === 0 ? -0 : -i, z: i / 3 });
    if (i % 2 === 0) tx.add(e, Name, { value: STRINGS[i % STRINGS.length] });
    if (i % 3 === 0) tx.add(e, Health, { hp: i % 7 === 0 ? -2147483648 : i * 13 });
    if (i % 5 === 0) tx.add(e, Frozen);
    if (i % 6 === 0 && i > 0) tx.add(e, Target, { entity: i % 12 === 0 ? null : ids[(i * 7) % i] });
    if (i % 4 === 0) {
      tx.add(e, AllTypes, {
        i8: i % 8 === 0 ? -128 : 127,
        u8: 255,
        i16: -32768,
        u16: 65535,
        i32: 2147483647,
        u32: 4294967295,
        f32: [-0, Number.NaN, Number.POSITIVE_INFINITY, 1e-45, 3.4e38][i % 5],
        f64: [-0, Number.NaN, Number.NEGATIVE_INFINITY, Number.MIN_VALUE, Number.MAX_VALUE, 0.1][i % 6],
        bool: i % 8 === 0,
        string: STRINGS[(i / 4) % STRINGS.length],
        entity: i > 0 ? ids[i - 1] : null,
        vec3: [i, -0, Number.NaN],
        bytes: [0, 255, i % 256, 128],
      });
    }
  }
  return ids;
}

/** Destroys and re-creates so that slots reach generations 1, 2 and 3, some live, some free. */
function churn(tx: Transaction, ids: Entity[], round: number): void {
  for (let i = round; i < ids.length; i += 3) {
    if (tx.exists(ids[i])) tx.destroy(ids[i]);
  }
  for (let i = 0; i < 120; i++) {
    const e = tx.create();
    tx.add(e, Position, { x: round, y: i, z: -i });
    if (i % 2 === 0) tx.add(e, Frozen);
    ids.push(e);
  }
  // Components removed from live entities: present flags cleared while columns keep old values.
  for (let i = 1; i < ids.length; i += 10) {
    if (tx.exists(ids[i]) && tx.has(ids[i], Name)) tx.remove(ids[i], Name);
  }
}

/**
 * One small commit while a snapshot copies chunks. How many run depends on the storage's speed,
 * so they create nothing: the free slots left for the allocator check stay the same.
 */
function during(tx: Transaction, ids: Entity[], counter: Entity, step: number): void {
  const e = ids[(step * 37) % ids.length];
  if (tx.exists(e)) {
    if (tx.has(e, Position)) tx.set(e, Position, { x: -step, z: step * 1.5 });
    else tx.add(e, Position, { y: step });
    if (step % 4 === 0) tx.destroy(e);
  }
  tx.set(counter, Name, { value: `during ${step}` });
}

function sameNumber(a: unknown, b: unknown): boolean {
  return Object.is(a, b);
}

/** Compares every field of every component of every live entity; messages name the spot. */
function expectSameWorld(recovered: Database, original: Database, components: readonly AnyComponentDef[]): void {
  const ids = original.query();
  expect(recovered.query(), 'live entity ids').toEqual(ids);
  expect(recovered.entityCount).toBe(original.entityCount);
  for (const e of ids) {
    for (const component of components) {
      const where = `entity ${e} ${component.name}`;
      expect(recovered.has(e, component), `${where} presence`).toBe(original.has(e, component));
      if (!original.has(e, component)) continue;
      const want = original.get(e, component) as Record<string, unknown>;
      const got = recovered.get(e, component) as Record<string, unknown>;
      expect(Object.keys(got), `${where} fields`).toEqual(Object.keys(want));
      for (const field of Object.keys(want)) {
        const [a, b] = [got[field], want[field]];
        if (Array.isArray(b)) {
          expect((a as unknown[]).length, `${where}.${field} length`).toBe(b.length);
          b.forEach((value, i) => expect(sameNumber((a as unknown[])[i], value), `${where}.${field}[${i}]: ${(a as unknown[])[i]} vs ${value}`).toBe(true));
        } else if (typeof b === 'number') {
          expect(sameNumber(a, b), `${where}.${field}: ${a} vs ${b}`).toBe(true);
        } else {
          expect(a, `${where}.${field}`).toEqual(b);
        }
      }
    }
  }
}

/** The zero-copy path: the same rows, the same ids per row, the same column bytes per row. */
function expectSameColumns(recovered: Database, original: Database, components: readonly AnyComponentDef[]): void {
  for (const component of components) {
    const rows = original.queryRows(component);
    expect([...recovered.queryRows(component)].sort((a, b) => a - b), `${component.name} rows`).toEqual([...rows].sort((a, b) => a - b));
    const want = original.columns(component as never) as Record<string, ArrayLike<unknown>>;
    const got = recovered.columns(component as never) as Record<string, ArrayLike<unknown>>;
    for (const field of Object.keys(want)) {
      const type = (component.fields as Record<string, FieldType>)[field];
      const width = type.kind === 'array' ? type.length : 1;
      for (const row of rows) {
        expect(recovered.entityAt(row), `entity in row ${row}`).toBe(original.entityAt(row));
        for (let k = 0; k < width; k++) {
          const index = row * width + k;
          expect(sameNumber(got[field][index], want[field][index]), `${component.name}.${field} row ${row}[${k}]`).toBe(true);
        }
      }
    }
  }
}

describe.each(BOTH_STORAGES)('a world recovered from snapshot + tail on $name', (kind) => {
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    // Last in, first out: databases close before their directories go.
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  test.each([
    ['plain', false],
    ['deflate-compressed', true],
  ])('equals the live world that wrote it, field by field, with %s sections', async (_name, compress) => {
    const fixture: DirFixture = await kind.create();
    cleanups.push(() => fixture.cleanup());
    const options = { ...HERMETIC, components: WORKLOAD_COMPONENTS, wal: SMALL_WAL, snapshot: { ...MANUAL_SNAPSHOTS, chunkSlots: 256, compress } };
    const original = await openFixture(fixture, options);
    cleanups.push(() => original.close());
    const ids = original.transact(populate).value;
    const destroyed: Entity[] = [];
    for (let round = 0; round < 3; round++) {
      const before = new Set(original.query());
      original.transact((tx) => churn(tx, ids, round));
      for (const e of before) if (!original.exists(e)) destroyed.push(e);
    }
    // A reference left dangling: its target is destroyed after the reference was written.
    const dangling = original.transact((tx) => {
      const target = tx.create();
      const holder = tx.create();
      tx.add(holder, Target, { entity: target });
      tx.destroy(target);
      return { holder, target };
    }).value;
    const counter = original.transact((tx) => {
      const e = tx.create();
      tx.add(e, Name, { value: 'counter' });
      return e;
    }).value;
    await original.flush();

    // The snapshot copies chunks while commits go on; the tail follows it.
    let done = false;
    const snapshot = original.snapshot().finally(() => (done = true));
    let step = 0;
    while (!done) {
      original.transact((tx) => during(tx, ids, counter, step++));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const entry = await snapshot;
    expect(entry.endLsn, 'commits went on during the snapshot').toBeGreaterThan(entry.startLsn);
    for (let i = 0; i < 25; i++) original.transact((tx) => during(tx, ids, counter, step++));
    await original.flush();

    const image = await copyFixture(fixture);
    cleanups.push(() => image.cleanup());
    const recovered = await openFixture(image, options);
    cleanups.push(() => recovered.close());
    expect(recovered.recovery!.snapshot?.file, 'recovered from the snapshot').toBe(entry.file);
    expect(recovered.recovery!.wal.recordsReplayed, 'and its tail').toBe(original.lsn - entry.startLsn);
    expect(recovered.lsn).toBe(original.lsn);

    expectSameWorld(recovered, original, WORKLOAD_COMPONENTS);
    expectSameColumns(recovered, original, WORKLOAD_COMPONENTS);
    expect(recovered.get(dangling.holder, Target)).toEqual(original.get(dangling.holder, Target));
    expect(destroyed.length).toBeGreaterThan(100);
    expect(destroyed.some((e) => e >= 2 ** 24), 'some destroyed entities had reused slots (generation 1 or more)').toBe(true);
    for (const e of [...destroyed, dangling.target]) expect(recovered.exists(e), `destroyed ${e} stays destroyed`).toBe(false);

    // The allocator state: every free slot at its generation, in the same order, then fresh slots.
    const createMany = (tx: Transaction) => Array.from({ length: 1200 }, () => tx.create());
    const next = original.transact(createMany).value;
    expect(recovered.transact(createMany).value).toEqual(next);
    expect(next.filter((e) => e >= 2 ** 24 * 2).length, 'free slots past generation 1 are reused').toBeGreaterThan(0);
  });
});
