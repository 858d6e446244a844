/**
 * db.stateHash(): a function of the logical world only. Checked against an independent reference
 * encoder written from the stream layout in src/world/state-hash.ts (so the hash provably depends
 * on nothing but the logical content), across different histories that reach the same world,
 * and against every single-value change. Persistence (replay, snapshots, fresh directories) is in
 * test/history/state-hash-persistence.test.ts.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defineComponent, open, t, type Database, type Transaction } from '../../src/index.js';
import type { AnyComponentDef } from '../../src/schema/component.js';
import { describeFieldType } from '../../src/schema/types.js';
import { AllTypes, Frozen, Health, Name, Position, Target } from '../helpers/fixtures.js';

const COMPONENTS = [Position, Health, Name, Target, Frozen, AllTypes];

async function memoryDb(components: readonly AnyComponentDef[] = COMPONENTS): Promise<Database> {
  return open({ components: [...components], durability: 'memory', config: false, env: {} });
}

/** The stream of src/world/state-hash.ts, restated from the public reads alone. */
function referenceHash(db: Database, components: readonly AnyComponentDef[] = COMPONENTS): string {
  const parts: Uint8Array[] = [];
  const bytes = (size: number, write: (view: DataView) => void) => {
    const out = new Uint8Array(size);
    write(new DataView(out.buffer));
    parts.push(out);
  };
  const u32 = (value: number) => bytes(4, (v) => v.setUint32(0, value, true));
  const str = (value: string) => {
    const utf8 = Buffer.from(value, 'utf8');
    u32(utf8.length);
    parts.push(utf8);
  };
  const byName = <T extends { name: string }>(items: T[]) => items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const sorted = byName([...components]);
  const fieldsOf = (def: AnyComponentDef) => byName(def.fieldNames.map((name) => ({ name, type: def.fields[name] })));
  parts.push(Buffer.from('ecsdb-state-hash/1\n'));
  u32(sorted.length);
  for (const def of sorted) {
    str(def.name);
    u32(def.fieldNames.length);
    for (const field of fieldsOf(def)) {
      str(field.name);
      str(describeFieldType(field.type));
    }
  }
  const entities = db.query();
  u32(entities.length);
  for (const entity of entities) bytes(8, (v) => v.setFloat64(0, entity, true));
  const number = (kind: string, value: number) => {
    const width = { i8: 1, u8: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4, f64: 8 }[kind]!;
    bytes(width, (v) => {
      if (kind === 'f32') v.setUint32(0, Number.isNaN(value) ? 0x7fc00000 : (new Uint32Array(new Float32Array([value]).buffer)[0]), true);
      else if (kind === 'f64') Number.isNaN(value) ? v.setBigUint64(0, 0x7ff8000000000000n, true) : v.setFloat64(0, value, true);
      else if (kind === 'i8') v.setInt8(0, value);
      else if (kind === 'u8') v.setUint8(0, value);
      else if (kind === 'i16') v.setInt16(0, value, true);
      else if (kind === 'u16') v.setUint16(0, value, true);
      else if (kind === 'i32') v.setInt32(0, value, true);
      else v.setUint32(0, value, true);
    });
  };
  for (const def of sorted) {
    const having = entities.filter((entity) => db.has(entity, def));
    parts.push(Uint8Array.from(entities.map((entity) => (db.has(entity, def) ? 1 : 0))));
    for (const field of fieldsOf(def)) {
      for (const entity of having) {
        const value = (db.get(entity, def) as Record<string, unknown>)[field.name];
        const type = field.type;
        if (type.kind === 'string') str(value as string);
        else if (type.kind === 'bool') number('u8', value ? 1 : 0);
        else if (type.kind === 'entity') bytes(8, (v) => v.setFloat64(0, value === null ? -1 : (value as number) + 0, true));
        else if (type.kind === 'array') for (const element of value as number[]) number(type.element, element);
        else number(type.kind, value as number);
      }
    }
  }
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

const ALL_TYPES_VALUE = {
  i8: -5,
  u8: 200,
  i16: -300,
  u16: 60000,
  i32: -70000,
  u32: 4000000000,
  f32: 1.5,
  f64: Math.PI,
  bool: true,
  string: 'ü€😀',
  entity: null,
  vec3: [1, -2, 3.5],
  bytes: [1, 2, 3, 4],
};

/** Two entities, the second with every field type and a reference to the first. */
function buildDirect(tx: Transaction): void {
  const a = tx.create();
  const b = tx.create();
  tx.add(a, Position, { x: 1, y: 2, z: 3 });
  tx.add(a, Name, { value: 'alpha' });
  tx.add(b, AllTypes, { ...ALL_TYPES_VALUE, entity: a });
  tx.add(b, Frozen);
  tx.add(b, Target, { entity: a });
}

describe('stateHash: what it covers', () => {
  it('is the SHA-256 of the documented stream (an independent encoder agrees)', async () => {
    const db = await memoryDb();
    expect(db.stateHash()).toBe(referenceHash(db));
    db.transact(buildDirect);
    expect(db.stateHash()).toMatch(/^[0-9a-f]{64}$/);
    expect(db.stateHash()).toBe(referenceHash(db));
    await db.close();
  });

  it('does not depend on the order components are passed to open()', async () => {
    const a = await memoryDb(COMPONENTS);
    const b = await memoryDb([...COMPONENTS].reverse());
    a.transact(buildDirect);
    b.transact(buildDirect);
    expect(a.stateHash()).toBe(b.stateHash());
    await a.close();
    await b.close();
  });

  it('covers the schema: an extra component, or another field type, is another world', async () => {
    const plain = await memoryDb([Position]);
    const extra = await memoryDb([Position, Frozen]);
    const wider = await memoryDb([defineComponent('Position', { x: t.f64, y: t.f32, z: t.f32 })]);
    const hashes = new Set([plain.stateHash(), extra.stateHash(), wider.stateHash()]);
    expect(hashes.size).toBe(3);
    for (const db of [plain, extra, wider]) await db.close();
  });
});

describe('stateHash: the same world through different histories', () => {
  it('is equal after other orders of changes, removed components, set-and-revert and rollbacks', async () => {
    const direct = await memoryDb();
    direct.transact(buildDirect);

    const winding = await memoryDb();
    const [a, b] = winding.transact((tx) => [tx.create(), tx.create()]).value;
    winding.transact((tx) => {
      tx.add(b, Target, { entity: b });
      tx.add(b, Frozen);
      tx.add(b, Name, { value: 'a stale string left in the column' });
    });
    winding.transact((tx) => {
      tx.add(b, AllTypes, { i8: 99, string: 'first' });
      tx.remove(b, Name);
      tx.add(a, Name, { value: 'alpha' });
    });
    expect(() =>
      winding.transact((tx) => {
        tx.add(a, Position, { x: 42 });
        tx.destroy(b);
        throw new Error('rolled back');
      }),
    ).toThrow('rolled back');
    winding.transact((tx) => tx.add(a, Position, { z: 3, y: 2, x: 0 }));
    winding.transact((tx) => {
      tx.set(a, Position, { x: 1 });
      tx.set(b, AllTypes, { ...ALL_TYPES_VALUE, entity: a });
      tx.set(b, Target, { entity: a });
    });
    winding.transact((tx) => {
      tx.set(a, Position, { x: 7 });
      tx.set(a, Position, { x: 1 });
    });
    expect(winding.stateHash()).toBe(direct.stateHash());
    await direct.close();
    await winding.close();
  });

  it('leaves out the allocator unless asked: dead slots and their generations', async () => {
    const direct = await memoryDb();
    direct.transact(buildDirect);
    const churned = await memoryDb();
    churned.transact(buildDirect);
    churned.transact((tx) => {
      for (let i = 0; i < 3000; i++) tx.create();
    });
    churned.transact((tx) => {
      for (const entity of tx.query()) if (entity > 1) tx.destroy(entity);
    });
    expect(churned.stateHash()).toBe(direct.stateHash());
    expect(churned.stateHash({ allocator: true })).not.toBe(direct.stateHash({ allocator: true }));
    const replica = await memoryDb();
    replica.transact(buildDirect);
    expect(replica.stateHash({ allocator: true })).toBe(direct.stateHash({ allocator: true }));
    for (const db of [direct, churned, replica]) await db.close();
  });

  it('tells entities apart by id: the same values under another generation differ', async () => {
    const first = await memoryDb();
    first.transact((tx) => tx.add(tx.create(), Health, { hp: 1 }));
    const second = await memoryDb();
    second.transact((tx) => tx.destroy(tx.create()));
    second.transact((tx) => tx.add(tx.create(), Health, { hp: 1 }));
    expect(second.query()).not.toEqual(first.query());
    expect(second.stateHash()).not.toBe(first.stateHash());
    await first.close();
    await second.close();
  });
});

describe('stateHash: any single change changes it', () => {
  const changes: [string, (tx: Transaction, a: number, b: number) => void][] = [
    ...Object.entries({
      i8: -6,
      u8: 201,
      i16: -301,
      u16: 60001,
      i32: -70001,
      u32: 4000000001,
      f32: 1.25,
      f64: Math.E,
      bool: false,
      string: 'ü€😁',
      entity: 1,
      vec3: [1, -2, 3.25],
      bytes: [1, 2, 3, 5],
    }).map(([field, value]): [string, (tx: Transaction, a: number, b: number) => void] => [
      `AllTypes.${field}`,
      (tx, _a, b) => tx.set(b, AllTypes, { [field]: value }),
    ]),
    ['Position.x by one f32 step', (tx, a) => tx.set(a, Position, { x: 1.0000001 })],
    ['Position.y to -0', (tx, a) => tx.set(a, Position, { y: -0 })],
    ['a tag removed', (tx, _a, b) => tx.remove(b, Frozen)],
    ['a tag added', (tx, a) => tx.add(a, Frozen)],
    ['an empty component added', (tx, a) => tx.add(a, Health)],
    ['a component removed', (tx, a) => tx.remove(a, Name)],
    ['an entity without components created', (tx) => void tx.create()],
    ['an entity destroyed', (tx, _a, b) => tx.destroy(b)],
    ['a reference set to null', (tx, _a, b) => tx.set(b, Target, { entity: null })],
  ];

  it.each(changes)('%s', async (_name, change) => {
    const db = await memoryDb();
    db.transact(buildDirect);
    const before = db.stateHash();
    db.transact((tx) => change(tx, 0, 1));
    expect(db.stateHash()).not.toBe(before);
    expect(db.stateHash()).toBe(referenceHash(db));
    await db.close();
  });

  it('tells -0 from +0 in floats, but not in entity references (the log stores those as integers)', async () => {
    const db = await memoryDb();
    db.transact(buildDirect);
    db.transact((tx) => tx.set(0, Position, { x: 0 }));
    const positiveZero = db.stateHash();
    db.transact((tx) => tx.set(0, Position, { x: -0 }));
    expect(db.stateHash()).not.toBe(positiveZero);
    db.transact((tx) => tx.set(1, Target, { entity: -0 }));
    const negativeRef = db.stateHash();
    db.transact((tx) => tx.set(1, Target, { entity: 0 }));
    expect(db.stateHash()).toBe(negativeRef);
    await db.close();
  });

  it('sees every NaN as the same NaN, whatever its payload bits', async () => {
    const db = await memoryDb();
    db.transact(buildDirect);
    db.transact((tx) => tx.set(1, AllTypes, { f32: NaN, f64: NaN }));
    const canonical = db.stateHash();
    // Payload bits can only arrive through typed arrays; write them straight into the columns.
    const columns = db.columns(AllTypes);
    new Uint32Array((columns.f32 as Float32Array).buffer)[1] = 0xffc01234;
    new Uint32Array((columns.f64 as Float64Array).buffer)[3] = 0x7ff00001;
    expect(db.stateHash()).toBe(canonical);
    await db.close();
  });
});

// ---------------------------------------------------------------------------------------------
// Property: after random transactions, plus random changes that leave the world as it was, the
// hash equals the reference encoder's over the public reads.

type Op =
  | { kind: 'create' }
  | { kind: 'destroy'; pick: number }
  | { kind: 'position'; pick: number; x: number }
  | { kind: 'name'; pick: number; value: string }
  | { kind: 'frozen'; pick: number }
  | { kind: 'target'; pick: number; target: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ kind: 'create' }),
  fc.record({ kind: fc.constant('destroy' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('position' as const), pick: fc.nat(), x: fc.oneof(fc.float(), fc.constantFrom(-0, NaN)) }),
  fc.record({ kind: fc.constant('name' as const), pick: fc.nat(), value: fc.string() }),
  fc.record({ kind: fc.constant('frozen' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('target' as const), pick: fc.nat(), target: fc.nat() }),
);

function applyOp(tx: Transaction, op: Op): void {
  if (op.kind === 'create') return void tx.create();
  const live = tx.query();
  if (live.length === 0) return;
  const e = live[op.pick % live.length];
  if (op.kind === 'destroy') tx.destroy(e);
  else if (op.kind === 'position') (tx.has(e, Position) ? tx.set : tx.add).call(tx, e, Position, { x: op.x });
  else if (op.kind === 'name') (tx.has(e, Name) ? tx.set : tx.add).call(tx, e, Name, { value: op.value });
  else if (op.kind === 'frozen') (tx.has(e, Frozen) ? tx.remove(e, Frozen) : tx.add(e, Frozen));
  else (tx.has(e, Target) ? tx.set : tx.add).call(tx, e, Target, { entity: live[op.target % live.length] });
}

/** Changes that end where they started: a component added and removed, a value set and restored. */
function noise(tx: Transaction, pick: number): void {
  const live = tx.query();
  if (live.length === 0) return;
  const e = live[pick % live.length];
  if (tx.has(e, Health)) {
    const before = tx.get(e, Health)!;
    tx.set(e, Health, { hp: before.hp + 1 });
    tx.set(e, Health, before);
  } else {
    tx.add(e, Health, { hp: 5 });
    tx.remove(e, Health);
  }
}

describe('stateHash: property', () => {
  it('equals the reference encoding after random transactions, and ignores changes that cancel out', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { maxLength: 6 }), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 5 }), async (txs, noisePicks) => {
        const db = await memoryDb();
        for (const ops of txs) db.transact((tx) => ops.forEach((op) => applyOp(tx, op)));
        const hash = db.stateHash();
        expect(hash).toBe(referenceHash(db));
        for (const pick of noisePicks) db.transact((tx) => noise(tx, pick));
        expect(db.stateHash()).toBe(hash);
        await db.close();
      }),
      { numRuns: 60 },
    );
  });
});
