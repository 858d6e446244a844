import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EcsdbError } from '../../src/index.js';
import {
  decodeWriteSet,
  encodeWriteSet,
  fieldsOfMask,
  isEmptyWriteSet,
  type ChangeColumn,
  type ComponentChanges,
  type Upsert,
  type WriteSet,
  type WriteSetSchema,
} from '../../src/txn/write-set.js';
import { GENERATION_MAX, SLOT_COUNT_MAX } from '../../src/world/entity-id.js';
import { INTEGER_RANGE, type NumericKind } from '../../src/schema/types.js';
import type { FieldInfo } from '../../src/world/table.js';
import { World } from '../../src/world/world.js';
import { ALL_COMPONENTS, AllTypes, Frozen, Health, Name, Position, SPEC_COMPONENTS, Target } from '../helpers/fixtures.js';
import { InternalDb } from '../helpers/internal-tx.js';
import { expectEcsdbError } from '../helpers/errors.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));

/** The spec's example world: e0 with Position and Health, e1 Frozen, e2 bare; then one mixed commit. */
function mixedCommit(): { db: InternalDb; writeSet: WriteSet; e0: number; e3: number } {
  const db = new InternalDb(SPEC_COMPONENTS);
  const [e0, e1, e2] = db.transact((tx) => {
    const ids = [tx.create(), tx.create(), tx.create()];
    tx.add(ids[0], Position, { x: 1, y: 2, z: 3 });
    tx.add(ids[0], Health, { hp: 10 });
    tx.add(ids[1], Frozen);
    return ids;
  }).value;
  const { value: e3, writeSet } = db.transact((tx) => {
    tx.destroy(e1);
    const reborn = tx.create(); // reuses slot 1 at generation 1
    tx.add(reborn, Name, { value: 'hi' });
    tx.add(reborn, Target, { entity: e0 });
    tx.set(e0, Position, { x: 0.5 });
    tx.remove(e0, Health);
    tx.add(e2, Frozen);
    return reborn;
  });
  return { db, writeSet, e0, e3 };
}

/**
 * Pinned encodings. If one of these changes, the on-disk format changed: bump
 * WRITE_SET_FORMAT_VERSION and keep a decoder for the old version.
 */
const MIXED_COMMIT_HEX =
  '010103' + // 1 slot state: slot 1, generation 1, alive (1 * 2 + 1)
  '05' + // 5 components
  '0000010102000000003f' + // Position: 0 removed, 1 upsert, mask x, 1 row listed (1 * 2 + 0), slot 0, f32 0.5
  '01010000' + // Health: 1 removed (slot 0), 0 upserts
  '020001010201026869' + // Name: 0 removed, 1 upsert, mask value, 1 row listed, slot 1, "hi"
  '03000101020101' + // Target: 0 removed, 1 upsert, mask entity, 1 row listed, slot 1, entity 0 as varint(0 + 1)
  '040001000202'; // Frozen: 0 removed, 1 upsert, mask 0 (tag), 1 row listed, slot 2
const ALL_TYPES_HEX =
  '010001' + // 1 slot state: slot 0, generation 0, alive
  '01' + '00' + '00' + '01' + // 1 component: AllTypes, 0 removed, 1 upsert
  'ff3f' + '02' + '00' + // mask of all 13 fields (8191), 1 row listed, slot 0
  'fe' + 'c8' + 'd4fe' + '60ea' + '90eefeff' + '00286bee' + // i8 -2, u8 200, i16 -300, u16 60000, i32 -70000, u32 4e9
  '0000c03f' + '000000000000d0bf' + '01' + // f32 1.5, f64 -0.25, bool true
  '02c3a9' + '01' + // string "é" (2 UTF-8 bytes), entity 0
  '0000803f' + '00000040' + '00004040' + '01020304'; // vec3 [1, 2, 3] as f32, bytes [1, 2, 3, 4] as u8
const W1_POINT_COMMIT_HEX = '00' + '01' + '00' + '00' + '01' + '07' + '02' + '00' + '0000803f' + '00000040' + '00004040';

function allTypesCommit(): { db: InternalDb; writeSet: WriteSet } {
  const db = new InternalDb([AllTypes]);
  const { writeSet } = db.transact((tx) => {
    const e = tx.create();
    tx.add(e, AllTypes, {
      i8: -2, u8: 200, i16: -300, u16: 60000, i32: -70000, u32: 4_000_000_000,
      f32: 1.5, f64: -0.25, bool: true, string: 'é', entity: e, vec3: [1, 2, 3], bytes: [1, 2, 3, 4],
    });
  });
  return { db, writeSet };
}

describe('write set golden bytes', () => {
  it('pins the encoding of a commit with a reborn slot, a removal, partial and full upserts and a tag', () => {
    const { db, writeSet } = mixedCommit();
    expect(hex(encodeWriteSet(writeSet, db.schema))).toBe(MIXED_COMMIT_HEX);
  });

  it('pins the encoding of every field type', () => {
    const { db, writeSet } = allTypesCommit();
    expect(hex(encodeWriteSet(writeSet, db.schema))).toBe(ALL_TYPES_HEX);
  });

  it('encodes a W1 point commit (set Position x, y, z of one entity) in 20 bytes', () => {
    const db = new InternalDb(SPEC_COMPONENTS);
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Position);
      return id;
    }).value;
    const { writeSet } = db.transact((tx) => tx.set(e, Position, { x: 1, y: 2, z: 3 }));
    const bytes = encodeWriteSet(writeSet, db.schema);
    expect(hex(bytes)).toBe(W1_POINT_COMMIT_HEX);
    expect(bytes.length).toBe(20);
  });

  it('pins the runs form: a block of consecutive entities lists its slots as one run', () => {
    const db = new InternalDb(SPEC_COMPONENTS);
    const ids = db.transact((tx) =>
      Array.from({ length: 4 }, () => {
        const id = tx.create();
        tx.add(id, Health, { hp: 1 });
        return id;
      }),
    ).value;
    const { writeSet, liveBytes } = db.transact((tx) => ids.forEach((id, i) => tx.set(id, Health, { hp: 100 + i })));
    const runsHex =
      '00' + '01' + '01' + '00' + '01' + // no slot states; Health: 0 removed, 1 upsert
      '01' + '09' + '01' + '00' + '04' + // mask hp, 4 rows as runs (4 * 2 + 1): 1 run, from slot 0, 4 long
      '64000000' + '65000000' + '66000000' + '67000000'; // hp 100..103 as i32
    expect(hex(encodeWriteSet(writeSet, db.schema))).toBe(runsHex);
    expect(hex(liveBytes)).toBe(runsHex);
    expect(decodeWriteSet(fromHex(runsHex), db.schema)).toEqual(writeSet);
  });

  it('lists the rows of an upsert without fields (a tag) even when they are one run', () => {
    const db = new InternalDb(SPEC_COMPONENTS);
    const { writeSet, liveBytes } = db.transact((tx) => {
      for (let i = 0; i < 4; i++) tx.add(tx.create(), Frozen);
    });
    const bytes = encodeWriteSet(writeSet, db.schema);
    expect(hex(liveBytes)).toBe(hex(bytes));
    // ... Frozen (4): 0 removed, 1 upsert, mask 0, 4 rows listed (4 * 2 + 0), slots 0..3.
    expect(hex(bytes).endsWith('04' + '00' + '01' + '00' + '08' + '00010203')).toBe(true);
  });

  it('the commit path, copying runs of every field type as bytes, writes what the plain encoder writes', () => {
    const db = new InternalDb([AllTypes]);
    const ids = db.transact((tx) =>
      Array.from({ length: 40 }, () => {
        const id = tx.create();
        tx.add(id, AllTypes);
        return id;
      }),
    ).value;
    // Two runs (0..19 and 25..39) with a scattered entity between, whole and partial upserts.
    const picked = [...ids.slice(0, 20), ids[22], ...ids.slice(25)];
    const { writeSet, liveBytes } = db.transact((tx) => {
      picked.forEach((id, i) =>
        tx.set(id, AllTypes, {
          i8: -i, u8: i, i16: -300 * i, u16: 60000 - i, i32: -70000 * i, u32: 4_000_000_000 - i,
          f32: i + 0.5, f64: -i / 3, bool: i % 2 === 1, entity: ids[i], vec3: [i, -i, 0.25], bytes: [i, 1, 2, 255],
        }),
      );
      tx.set(ids[21], AllTypes, { f32: 7.5, vec3: [1, 2, 3] });
    });
    expect(hex(liveBytes)).toBe(hex(encodeWriteSet(writeSet, db.schema)));
    // One upsert of every field but the string, in runs 0..19, 22, 25..39, 21.
    const upserts = writeSet.components[0].upserts;
    expect(upserts.map((upsert) => upsert.slots.length)).toEqual([picked.length + 1]);
    expect(upserts[0].fieldMask).toBe(2 ** 13 - 1 - 2 ** 9);
  });

  it('decodes the pinned bytes to the write sets they were made from', () => {
    const mixed = mixedCommit();
    expect(decodeWriteSet(fromHex(MIXED_COMMIT_HEX), mixed.db.schema)).toEqual(mixed.writeSet);
    const all = allTypesCommit();
    expect(decodeWriteSet(fromHex(ALL_TYPES_HEX), all.db.schema)).toEqual(all.writeSet);
  });
});

// ---------------------------------------------------------------------------------------------
// Arbitrary write sets over the fixture schema, for round trips and as fuzzing seeds.

const SCHEMA: WriteSetSchema = new World(ALL_COMPONENTS).tables.map((table) => table.fields);

function numericArb(kind: NumericKind): fc.Arbitrary<number> {
  const range = INTEGER_RANGE[kind];
  if (range !== undefined) return fc.integer({ min: range[0], max: range[1] });
  return kind === 'f32' ? fc.float() : fc.double();
}

function valueArb(field: FieldInfo): fc.Arbitrary<number | string> {
  switch (field.type.kind) {
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 8 });
    case 'bool':
      return fc.constantFrom(0, 1);
    case 'entity':
      return fc.oneof(fc.constant(-1), fc.nat({ max: Number.MAX_SAFE_INTEGER - 1 }));
    default:
      return numericArb(field.storage!);
  }
}

const slotArb = fc.oneof(fc.nat({ max: 300 }), fc.integer({ min: 0, max: SLOT_COUNT_MAX - 1 }));

/** A run of consecutive slots, which the encoder writes in the runs form when it pays. */
const slotRunArb = fc
  .tuple(fc.integer({ min: 0, max: SLOT_COUNT_MAX - 41 }), fc.integer({ min: 1, max: 40 }))
  .map(([first, length]) => Array.from({ length }, (_, i) => first + i));

/** Scattered slots, one run, or a few runs (with scattered slots between them). */
const upsertSlotsArb = fc.oneof(
  fc.array(slotArb, { maxLength: 4 }),
  slotRunArb,
  fc.array(fc.oneof(slotRunArb, slotArb.map((slot) => [slot])), { maxLength: 4 }).map((parts) => parts.flat()),
);

function upsertArb(fields: readonly FieldInfo[]): fc.Arbitrary<Upsert> {
  return fc
    .tuple(fc.integer({ min: 0, max: 2 ** fields.length - 1 }), upsertSlotsArb)
    .chain(([fieldMask, slots]) =>
      fc
        .tuple(
          ...fieldsOfMask(fieldMask).map((index) => {
            const count = slots.length * fields[index].stride;
            return fc.array(valueArb(fields[index]), { minLength: count, maxLength: count }) as fc.Arbitrary<ChangeColumn>;
          }),
        )
        .map((columns): Upsert => ({ fieldMask, slots, columns })),
    );
}

const componentChangesArb: fc.Arbitrary<ComponentChanges> = fc
  .integer({ min: 0, max: SCHEMA.length - 1 })
  .chain((componentIndex) =>
    fc.record({
      componentIndex: fc.constant(componentIndex),
      removedSlots: fc.array(slotArb, { maxLength: 3 }),
      upserts: fc.array(upsertArb(SCHEMA[componentIndex]), { maxLength: 2 }),
    }),
  );

const writeSetArb: fc.Arbitrary<WriteSet> = fc
  .array(fc.tuple(slotArb, fc.integer({ min: 0, max: GENERATION_MAX + 1 }), fc.constantFrom(0, 1)), { maxLength: 4 })
  .chain((states) =>
    fc.array(componentChangesArb, { maxLength: 4 }).map(
      (components): WriteSet => ({
        slots: { slots: states.map((s) => s[0]), generations: states.map((s) => s[1]), alive: states.map((s) => s[2]) },
        components,
      }),
    ),
  );

describe('write set encode/decode', () => {
  it('round-trips any write set', () => {
    fc.assert(
      fc.property(writeSetArb, (writeSet) => {
        expect(decodeWriteSet(encodeWriteSet(writeSet, SCHEMA), SCHEMA)).toEqual(writeSet);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips the write sets of real commits', () => {
    for (const { db, writeSet } of [mixedCommit(), allTypesCommit()]) {
      expect(decodeWriteSet(encodeWriteSet(writeSet, db.schema), db.schema)).toEqual(writeSet);
    }
  });

  it('encodes the empty write set in two bytes', () => {
    const empty: WriteSet = { slots: { slots: [], generations: [], alive: [] }, components: [] };
    expect(isEmptyWriteSet(empty)).toBe(true);
    expect(hex(encodeWriteSet(empty, SCHEMA))).toBe('0000');
    expect(decodeWriteSet(fromHex('0000'), SCHEMA)).toEqual(empty);
  });

  it('lists the fields of a mask in ascending order', () => {
    expect(fieldsOfMask(0)).toEqual([]);
    expect(fieldsOfMask(0b1011)).toEqual([0, 1, 3]);
    expect(fieldsOfMask(2 ** 31 - 1)).toHaveLength(31);
  });
});

describe('write set decode of damaged bytes', () => {
  /** Decodes, and requires that any failure is CORRUPT_WAL: never another error. */
  function decodeOrCorrupt(bytes: Uint8Array): 'decoded' | 'corrupt' {
    try {
      decodeWriteSet(bytes, SCHEMA);
      return 'decoded';
    } catch (error) {
      expect(error).toBeInstanceOf(EcsdbError);
      expect((error as EcsdbError).code).toBe('CORRUPT_WAL');
      return 'corrupt';
    }
  }

  it('fails with CORRUPT_WAL on every truncation of a valid encoding', () => {
    const { db, writeSet } = mixedCommit();
    const bytes = encodeWriteSet(writeSet, db.schema);
    for (let length = 0; length < bytes.length; length++) {
      expectEcsdbError(() => decodeWriteSet(bytes.subarray(0, length), db.schema), 'CORRUPT_WAL');
    }
  });

  it('fails with CORRUPT_WAL on trailing bytes', () => {
    const { db, writeSet } = mixedCommit();
    const bytes = encodeWriteSet(writeSet, db.schema);
    const error = expectEcsdbError(() => decodeWriteSet(Uint8Array.from([...bytes, 0]), db.schema), 'CORRUPT_WAL');
    expect(error.message).toContain('1 trailing bytes');
  });

  // Schema: Position 0, Health 1, Name 2, Target 3, Frozen 4, AllTypes 5 (its bool is field 8).
  it.each([
    ['a component index beyond the schema', '00' + '01' + '09' + '00' + '00', 'component index 9 is not in the schema'],
    ['a field mask beyond the component\'s fields', '00' + '01' + '01' + '00' + '01' + '02' + '00', 'field mask 2 names fields beyond'],
    ['a bool byte other than 0 or 1', '00' + '01' + '05' + '00' + '01' + '8002' + '02' + '00' + '02', 'bool value 2'],
    ['a string that is not UTF-8', '00' + '01' + '02' + '00' + '01' + '01' + '02' + '00' + '01' + 'ff', 'not valid UTF-8'],
    // Position (x, y, z: f32) upserts in the runs form (row header rowCount * 2 + 1).
    ['a run of no slots', '00' + '01' + '00' + '00' + '01' + '01' + '03' + '01' + '05' + '00' + '00000000', 'run of 0 slots from slot 5'],
    ['runs with more rows than the upsert', '00' + '01' + '00' + '00' + '01' + '01' + '03' + '01' + '05' + '02' + '00000000', 'run of 2 slots from slot 5 does not fit the 1 rows left'],
    ['runs with fewer rows than the upsert', '00' + '01' + '00' + '00' + '01' + '01' + '05' + '01' + '05' + '01' + '0000000000000000', 'runs hold 1 rows, the upsert has 2'],
    ['a run past the slot range', '00' + '01' + '00' + '00' + '01' + '01' + '03' + '01' + 'feffff07' + '02' + '00000000', 'does not fit'],
    // Frozen (a tag, component 4): 2 rows as runs (2 * 2 + 1) in an upsert with no field.
    ['rows as runs in an upsert without fields', '00' + '01' + '04' + '00' + '01' + '00' + '05' + '01' + '00' + '02', 'rows as runs in an upsert that writes no field'],
    ['a row count the remaining bytes cannot hold', '00' + '01' + '00' + '00' + '01' + '01' + 'ffffff01' + '01' + '00' + 'ffff3f', 'row count 2097151 exceeds'],
    ['a count larger than the input', 'ffff03' + '00', 'slot count 65535 exceeds'],
    ['a varint longer than 8 bytes', 'ffffffffffffffffff01', 'varint longer than 8 bytes'],
    ['a slot beyond the slot range', '01' + '8080808008' + '00' + '00', 'slot 2147483648 out of range'],
    ['a generation beyond the generation range', '01' + '00' + 'ffffffffffffff0f' + '00', 'out of range'],
  ])('fails with CORRUPT_WAL on %s', (_label, text, reason) => {
    const error = expectEcsdbError(() => decodeWriteSet(fromHex(text), SCHEMA), 'CORRUPT_WAL');
    expect(error.message).toContain(reason);
  });

  it('never throws anything but CORRUPT_WAL on random mutations of valid encodings', () => {
    const mutationArb = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    );
    let corrupt = 0;
    fc.assert(
      fc.property(writeSetArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (writeSet, mutations) => {
        const bytes = [...encodeWriteSet(writeSet, SCHEMA)];
        for (const mutation of mutations) {
          const at = mutation.at % (bytes.length + 1);
          if (mutation.kind === 'set' && at < bytes.length) bytes[at] = mutation.byte;
          else if (mutation.kind === 'flip' && at < bytes.length) bytes[at] ^= 1 << mutation.bit;
          else if (mutation.kind === 'insert') bytes.splice(at, 0, mutation.byte);
          else if (mutation.kind === 'delete') bytes.splice(at, 1);
          else if (mutation.kind === 'truncate') bytes.length = at;
        }
        if (decodeOrCorrupt(Uint8Array.from(bytes)) === 'corrupt') corrupt++;
      }),
      { numRuns: 3000 },
    );
    // Most mutations must be caught; a value byte can change without breaking the structure.
    expect(corrupt).toBeGreaterThan(1000);
  });

  it('never throws anything but CORRUPT_WAL on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
        decodeOrCorrupt(bytes);
      }),
      { numRuns: 3000 },
    );
  });
});
