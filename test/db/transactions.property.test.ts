/**
 * Differential property test: random sequences of transactions (random creates, destroys, adds,
 * sets and removes with valid and invalid values; some transactions throw part-way, some return a
 * promise) run against the database and against a plain Map-based model, which decides every
 * expected outcome and error code. After every operation and every transaction, the reads of both
 * must agree.
 *
 * The same transactions also run on a bare World through the database's internals, so that each
 * commit's write set can be encoded, decoded and applied, in order, to a second world, which must
 * then equal the first exactly (what WAL replay relies on), both decoded into objects and applied
 * straight from the bytes as recovery does; applying each write set twice must be
 * harmless, and replaying any suffix of the log again over the final world must converge on it
 * (what a fuzzy snapshot relies on).
 *
 * fast-check prints the seed and the shrunk counterexample on failure; replay one with
 * `fc.assert(..., { seed, path })`.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EcsdbError, defineComponent, open, t, type Database, type Transaction } from '../../src/index.js';
import type { AnyComponentDef } from '../../src/schema/component.js';
import type { FieldType, NumericKind } from '../../src/schema/types.js';
import { ByteReader } from '../../src/encoding/bytes.js';
import { applyEncodedWriteSet, applyWriteSet } from '../../src/txn/apply.js';
import { decodeWriteSet, encodeWriteSet, isEmptyWriteSet, type WriteSet } from '../../src/txn/write-set.js';
import { entityIdOf } from '../../src/world/entity-id.js';
import { World } from '../../src/world/world.js';
import { InternalDb } from '../helpers/internal-tx.js';
import { Model, ModelError } from '../helpers/model.js';
import { dumpWorld } from '../helpers/world-dump.js';

const Pos = defineComponent('Pos', { x: t.f32, y: t.f32 });
const Stats = defineComponent('Stats', { hp: t.i16, level: t.u8, active: t.bool });
const Label = defineComponent('Label', { text: t.string });
const Link = defineComponent('Link', { target: t.entity });
const Vec = defineComponent('Vec', { v: t.array(t.i32, 3), w: t.f64 });
const Tag = defineComponent('Tag', {});
/** Never registered: operations on it must fail with UNKNOWN_COMPONENT. */
const Ghost = defineComponent('Ghost', { g: t.i32 });

const REGISTERED: readonly AnyComponentDef[] = [Pos, Stats, Label, Link, Vec, Tag];
const ALL_DEFS: readonly AnyComponentDef[] = [...REGISTERED, Ghost];

/** Ids that are not (yet) live entities: never created, a later generation, not ids at all. */
const SYNTHETIC_IDS = [entityIdOf(2, 1), 500, entityIdOf(1, 7), -1, 0.5];

// ---------------------------------------------------------------------------------------------
// The generated program: abstract operations whose entity arguments are resolved at run time.

/**
 * Picks an entity when the op runs: 'newest' the id created last, 'fit' a live entity the op can
 * succeed on (one without the component for add, one with it for set and remove), 'live' any live
 * entity, 'any' any id seen so far (mostly dead or never created). Each falls back to the next
 * when there is none.
 */
interface Pick {
  readonly mode: 'newest' | 'fit' | 'live' | 'any';
  readonly index: number;
}
type ValueSpec = { readonly ref: Pick } | { readonly raw: unknown };
/** `escape`: when the op fails as expected, let its error end the transaction instead of catching it. */
type OpSpec =
  | { readonly kind: 'create' }
  | { readonly kind: 'destroy'; readonly target: Pick; readonly escape: boolean }
  | { readonly kind: 'add' | 'set'; readonly target: Pick; readonly comp: number; readonly entries: [string, ValueSpec][] | undefined; readonly escape: boolean }
  | { readonly kind: 'remove'; readonly target: Pick; readonly comp: number; readonly escape: boolean };
interface TxSpec {
  readonly ops: OpSpec[];
  /** Throw a user error just before this op (modulo ops + 1), if set. */
  readonly throwAt: number | undefined;
  readonly returnsPromise: boolean;
}

/** `true` with probability weight / (weight + 1). */
const likely = (weight: number): fc.Arbitrary<boolean> =>
  fc.oneof({ arbitrary: fc.constant(true), weight }, { arbitrary: fc.constant(false), weight: 1 });
const pickArb: fc.Arbitrary<Pick> = fc.record({
  mode: fc.oneof(
    { arbitrary: fc.constant('fit' as const), weight: 6 },
    { arbitrary: fc.constant('live' as const), weight: 3 },
    { arbitrary: fc.constant('any' as const), weight: 1 },
  ),
  index: fc.nat(1000),
});
const raw = (arb: fc.Arbitrary<unknown>): fc.Arbitrary<ValueSpec> => arb.map((value) => ({ raw: value }));

const INT_RANGES: Partial<Record<NumericKind, [number, number]>> = {
  i16: [-32768, 32767],
  u8: [0, 255],
  i32: [-2147483648, 2147483647],
};

function numberArb(kind: NumericKind): fc.Arbitrary<number> {
  const range = INT_RANGES[kind];
  if (range !== undefined) return fc.oneof(fc.integer({ min: range[0], max: range[1] }), fc.constantFrom(range[0], range[1], 0));
  return kind === 'f32' ? fc.float() : fc.double();
}

function badNumberArb(kind: NumericKind): fc.Arbitrary<unknown> {
  const range = INT_RANGES[kind];
  if (range !== undefined) return fc.constantFrom(range[0] - 1, range[1] + 1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, '1', true, null);
  return kind === 'f32' ? fc.constantFrom(1e39, -1e300, '0', null, false) : fc.constantFrom('1', null, true);
}

function valueArb(type: FieldType): fc.Arbitrary<ValueSpec> {
  const good = ((): fc.Arbitrary<ValueSpec> => {
    switch (type.kind) {
      case 'bool':
        return raw(fc.boolean());
      case 'string':
        return raw(fc.oneof(fc.string({ maxLength: 4 }), fc.string({ unit: 'grapheme', maxLength: 4 })));
      case 'entity':
        return fc.oneof(pickArb.map((ref) => ({ ref })), fc.constant({ raw: null }));
      case 'array': {
        const elements = fc.array(numberArb(type.element), { minLength: type.length, maxLength: type.length });
        return raw(fc.oneof(elements, elements.map((values) => Int32Array.from(values))));
      }
      default:
        return raw(numberArb(type.kind));
    }
  })();
  const bad = ((): fc.Arbitrary<unknown> => {
    switch (type.kind) {
      case 'bool':
        return fc.constantFrom(0, 1, 'true', null);
      case 'string':
        return fc.constantFrom(5, null, ['a'], '\uD83D', 'x\uDFFFy');
      case 'entity':
        return fc.constantFrom('0', 0.5, -1, true);
      case 'array':
        return fc.oneof(
          fc.array(numberArb(type.element), { minLength: type.length - 1, maxLength: type.length - 1 }),
          fc.array(numberArb(type.element), { minLength: type.length + 1, maxLength: type.length + 1 }),
          fc.constantFrom([1, 2, 2 ** 31], [1, 0.5, 3], [1, '2', 3], null, 'abc', 7),
        );
      default:
        return badNumberArb(type.kind);
    }
  })();
  return fc.oneof(
    { arbitrary: good, weight: 8 },
    { arbitrary: raw(bad), weight: 1 },
    { arbitrary: fc.constant({ raw: undefined }), weight: 1 },
  );
}

function entriesArb(def: AnyComponentDef): fc.Arbitrary<[string, ValueSpec][] | undefined> {
  if (def.fieldNames.length === 0) {
    const unknown: [string, ValueSpec][] = [['q', { raw: 1 }]];
    return fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: fc.constant<[string, ValueSpec][]>([]), weight: 3 }, { arbitrary: fc.constant(unknown), weight: 1 });
  }
  const entry = fc.oneof(
    ...def.fieldNames.map((name) => ({ arbitrary: fc.tuple(fc.constant(name), valueArb(def.fields[name])), weight: 10 })),
    { arbitrary: fc.tuple(fc.constant('q'), raw(fc.constantFrom(1, undefined))), weight: 1 },
  ) as fc.Arbitrary<[string, ValueSpec]>;
  return fc.option(fc.array(entry, { maxLength: 4 }), { freq: 12, nil: undefined });
}

const compArb = fc.oneof({ arbitrary: fc.nat(REGISTERED.length - 1), weight: 20 }, { arbitrary: fc.constant(REGISTERED.length), weight: 1 });
const escapeArb = likely(12).map((stays) => !stays);

const writeOpArb = (kind: 'add' | 'set'): fc.Arbitrary<OpSpec> =>
  fc
    .tuple(pickArb, compArb, escapeArb)
    .chain(([target, comp, escape]) => entriesArb(ALL_DEFS[comp]).map((entries): OpSpec => ({ kind, target, comp, entries, escape })));

const opArb: fc.Arbitrary<OpSpec> = fc.oneof(
  { arbitrary: fc.constant<OpSpec>({ kind: 'create' }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('destroy' as const), target: pickArb, escape: escapeArb }), weight: 2 },
  { arbitrary: writeOpArb('add'), weight: 6 },
  { arbitrary: writeOpArb('set'), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('remove' as const), target: pickArb, comp: compArb, escape: escapeArb }), weight: 2 },
);

/** Creates an entity and adds a few components to it. */
const spawnArb: fc.Arbitrary<OpSpec[]> = fc.uniqueArray(fc.nat(REGISTERED.length - 1), { maxLength: 4 }).chain((comps) =>
  fc.tuple(...comps.map((comp) => entriesArb(REGISTERED[comp]))).map((entriesList): OpSpec[] => [
    { kind: 'create' },
    ...entriesList.map((entries, i): OpSpec => ({ kind: 'add', target: { mode: 'newest', index: 0 }, comp: comps[i], entries, escape: false })),
  ]),
);

const txArb: fc.Arbitrary<TxSpec> = fc.record({
  ops: fc
    .array(fc.oneof({ arbitrary: opArb.map((op) => [op]), weight: 5 }, { arbitrary: spawnArb, weight: 1 }), { maxLength: 12, size: 'medium' })
    .map((groups) => groups.flat()),
  throwAt: fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: fc.nat(), weight: 1 }),
  returnsPromise: likely(19).map((synchronous) => !synchronous),
});

// ---------------------------------------------------------------------------------------------
// Running one transaction against a Transaction and the model, in lockstep.

class UserAbort extends Error {}

interface Reader {
  exists(id: number): boolean;
  get(id: number, def: AnyComponentDef): unknown;
  has(id: number, def: AnyComponentDef): boolean;
  query(...defs: AnyComponentDef[]): number[];
}

function resolvePick(pick: Pick, model: Model, seen: readonly number[], op?: { kind: string; def: AnyComponentDef }): number {
  const newest = seen[seen.length - 1];
  if (pick.mode === 'newest' && model.isAlive(newest)) return newest;
  const live = model.liveIds();
  if (pick.mode === 'fit' && op !== undefined && REGISTERED.includes(op.def)) {
    const fit = live.filter((id) => model.has(id, op.def) !== (op.kind === 'add'));
    if (fit.length > 0) return fit[pick.index % fit.length];
  }
  if (pick.mode !== 'any' && live.length > 0) return live[pick.index % live.length];
  return seen[pick.index % seen.length];
}

function resolveValues(entries: [string, ValueSpec][] | undefined, model: Model, seen: readonly number[]): Record<string, unknown> | undefined {
  if (entries === undefined) return undefined;
  const values: Record<string, unknown> = {};
  for (const [name, spec] of entries) values[name] = 'ref' in spec ? resolvePick(spec.ref, model, seen) : spec.raw;
  return values;
}

type StepResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: EcsdbError };

/**
 * Runs one step on the model and on the real transaction; both must agree: the same value, or
 * the same error code. Any disagreement fails the test through `expect`.
 */
function lockstep<T>(modelFn: () => T, realFn: () => T): StepResult<T> {
  let expected: { value: T } | ModelError;
  try {
    expected = { value: modelFn() };
  } catch (error) {
    if (!(error instanceof ModelError)) throw error;
    expected = error;
  }
  let actual: { value: T } | { error: unknown };
  try {
    actual = { value: realFn() };
  } catch (error) {
    actual = { error };
  }
  if (expected instanceof ModelError) {
    const error = 'error' in actual ? actual.error : undefined;
    expect(error, `expected ${expected.code}`).toBeInstanceOf(EcsdbError);
    expect((error as EcsdbError).code).toBe(expected.code);
    return { ok: false, error: error as EcsdbError };
  }
  if ('error' in actual) throw actual.error;
  expect(actual.value).toEqual(expected.value);
  return { ok: true, value: expected.value };
}

interface TxOutcome {
  /** The model after the transaction's operations (the new committed state if it committed). */
  readonly working: Model;
  /** Ids created during the transaction, committed or not. */
  readonly created: number[];
  /** What transact must throw: undefined when it must commit. */
  readonly expectedFailure: UserAbort | EcsdbError | 'ASYNC_TRANSACTION' | undefined;
  /** Whether any operation touched the world (the journal is not empty). */
  readonly touched: boolean;
}

/** The callback for `spec`, checking every step against a working copy of the model. */
function transactionCallback(spec: TxSpec, committed: Model, known: readonly number[]): { callback: (tx: Transaction) => unknown; outcome: () => TxOutcome } {
  const working = committed.clone();
  const seen = [...known];
  const created: number[] = [];
  let expectedFailure: TxOutcome['expectedFailure'];
  let touched = false;
  const callback = (tx: Transaction): unknown => {
    const throwAt = spec.throwAt === undefined ? -1 : spec.throwAt % (spec.ops.length + 1);
    for (let i = 0; i < spec.ops.length && i !== throwAt; i++) {
      const op = spec.ops[i];
      const result = runOp(op, tx, working, seen, created);
      if (result === 'changed') touched = true;
      else if (result !== 'unchanged' && op.kind !== 'create' && op.escape) {
        // Let the operation's error end the transaction.
        expectedFailure = result;
        throw result;
      }
    }
    // Reads inside the callback see the transaction's own writes.
    expectSameReads(tx, working, seen);
    if (throwAt >= 0) {
      expectedFailure = new UserAbort();
      throw expectedFailure;
    }
    if (spec.returnsPromise) {
      expectedFailure = 'ASYNC_TRANSACTION';
      return Promise.resolve('late');
    }
    return created.length;
  };
  return { callback, outcome: () => ({ working, created, expectedFailure, touched }) };
}

/** Runs one op on the transaction and the model: whether it changed the world, or its error. */
function runOp(op: OpSpec, tx: Transaction, model: Model, seen: number[], created: number[]): 'changed' | 'unchanged' | EcsdbError {
  if (op.kind === 'create') {
    const id = lockstep(() => model.create(), () => tx.create());
    if (!id.ok) return id.error;
    created.push(id.value);
    // The newest id goes last ('newest' picks it), also when a rolled-back transaction saw it before.
    if (seen.includes(id.value)) seen.splice(seen.indexOf(id.value), 1);
    seen.push(id.value);
    expect(tx.exists(id.value)).toBe(true);
    return 'changed';
  }
  const target = resolvePick(op.target, model, seen, op.kind === 'destroy' ? undefined : { kind: op.kind, def: ALL_DEFS[op.comp] });
  if (op.kind === 'destroy') {
    const result = lockstep(() => model.destroy(target), () => tx.destroy(target));
    if (!result.ok) return result.error;
    expect(tx.exists(target)).toBe(false);
    return 'changed';
  }
  const def = ALL_DEFS[op.comp];
  if (op.kind === 'remove') {
    let changed = false;
    const result = lockstep(
      () => void (changed = model.remove(target, def)),
      () => tx.remove(target, def),
    );
    if (!result.ok) return result.error;
    expect(tx.has(target, def)).toBe(false);
    return changed ? 'changed' : 'unchanged';
  }
  const values = resolveValues(op.entries, model, seen);
  const result =
    op.kind === 'add'
      ? lockstep(() => model.add(target, def, values), () => tx.add(target, def, values as never))
      : lockstep(() => model.set(target, def, values), () => tx.set(target, def, values as never));
  if (!result.ok) return result.error;
  expect(tx.get(target, def)).toEqual(model.get(target, def));
  return 'changed';
}

// ---------------------------------------------------------------------------------------------
// Comparing reads.

/** Everything a reader shows about the ids seen so far, as one object (one comparison, one diff). */
function observe(read: (fn: () => unknown) => unknown, reader: Reader, ids: readonly number[], liveIds: readonly number[]) {
  return {
    exists: ids.map((id) => reader.exists(id)),
    values: liveIds.map((id) => REGISTERED.map((def) => [reader.has(id, def), reader.get(id, def) ?? null])),
    deadReads: ids.filter((id) => !liveIds.includes(id)).map((id) => [read(() => reader.get(id, Pos)), read(() => reader.has(id, Tag))]),
    queries: [...REGISTERED.map((def) => [def]), [Pos, Stats], [Link, Tag], [Vec, Label, Pos], []].map((defs) => reader.query(...defs)),
    unknown: read(() => reader.query(Ghost)),
  };
}

function errorCode(fn: () => unknown): unknown {
  try {
    return { value: fn() };
  } catch (error) {
    return error instanceof EcsdbError || error instanceof ModelError ? error.code : error;
  }
}

function modelReader(model: Model): Reader {
  return {
    exists: (id) => model.isAlive(id),
    get: (id, def) => model.get(id, def),
    has: (id, def) => model.has(id, def),
    query: (...defs) => (defs.length === 0 ? model.liveIds() : model.query(defs)),
  };
}

function expectSameReads(reader: Reader, model: Model, ids: readonly number[]): void {
  const liveIds = model.liveIds();
  expect(observe(errorCode, reader, ids, liveIds)).toEqual(observe(errorCode, modelReader(model), ids, liveIds));
}

/** The zero-copy path (queryRows, entityAt, columns) shows the same rows and values as the model. */
function expectSameColumns(db: Database, model: Model): void {
  for (const def of REGISTERED) {
    const rows = [...db.queryRows(def)].sort((a, b) => a - b);
    const columns = db.columns(def) as Record<string, ArrayLike<unknown>>;
    const actual = rows.map((row) => [db.entityAt(row), readRow(def, columns, row)]);
    const expected = model.query([def]).map((id) => [id, model.get(id, def)]);
    expect(actual, `zero-copy rows of ${def.name}`).toEqual(expected);
  }
}

function readRow(def: AnyComponentDef, columns: Record<string, ArrayLike<unknown>>, row: number): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const name of def.fieldNames) {
    const type = def.fields[name];
    const column = columns[name];
    if (type.kind === 'array') value[name] = Array.from((column as Int32Array).subarray(row * type.length, (row + 1) * type.length));
    else if (type.kind === 'bool') value[name] = column[row] === 1;
    else if (type.kind === 'entity') value[name] = column[row] === -1 ? null : column[row];
    else value[name] = column[row];
  }
  return value;
}

/** The id the next create would return, probed with a transaction that is then rolled back. */
function probeNextId(transact: (fn: (tx: Transaction) => unknown) => unknown): number {
  let next = -1;
  expect(() =>
    transact((tx) => {
      next = tx.create();
      throw new UserAbort();
    }),
  ).toThrow(UserAbort);
  return next;
}

// ---------------------------------------------------------------------------------------------

/** Runs `spec` on the database or the internal world and checks the transaction's outcome. */
function runAndCheck(spec: TxSpec, model: Model, known: readonly number[], transact: (fn: (tx: Transaction) => unknown) => unknown) {
  const { callback, outcome } = transactionCallback(spec, model, known);
  let result: { value: unknown } | { error: unknown };
  try {
    result = { value: transact(callback) };
  } catch (error) {
    result = { error };
  }
  const expected = outcome();
  if (expected.expectedFailure === undefined) {
    if ('error' in result) throw result.error;
  } else {
    expect('error' in result, 'the transaction must fail').toBe(true);
    const error = (result as { error: unknown }).error;
    if (expected.expectedFailure === 'ASYNC_TRANSACTION') {
      expect(error).toBeInstanceOf(EcsdbError);
      expect((error as EcsdbError).code).toBe('ASYNC_TRANSACTION');
    } else {
      expect(error).toBe(expected.expectedFailure);
    }
  }
  return { expected, result };
}

async function runProgram(program: TxSpec[]): Promise<void> {
  const db = await open({ components: REGISTERED });
  const internal = new InternalDb(REGISTERED);
  const replica = new InternalDb(REGISTERED);
  /** Replays the encoded records the way recovery does, without decoding to objects. */
  const byteReplica = new InternalDb(REGISTERED);
  const log: Uint8Array[] = [];
  let model = Model.empty(REGISTERED);
  const known: number[] = [...SYNTHETIC_IDS];
  let lsn = 0;

  for (const spec of program) {
    // The public API, against the model.
    const onDb = runAndCheck(spec, model, known, (fn) => db.transact(fn));
    // The same program through the internals, to capture the write set.
    const onWorld = runAndCheck(spec, model, known, (fn) => internal.transact(fn));
    expect(onWorld.expected.created).toEqual(onDb.expected.created);
    for (const id of onDb.expected.created) if (!known.includes(id)) known.push(id);

    const committed = onDb.expected.expectedFailure === undefined;
    if (committed) {
      model = onDb.expected.working;
      const commit = (onDb.result as { value: { lsn: number; value: unknown } }).value;
      const { writeSet, liveBytes } = (onWorld.result as { value: { writeSet: WriteSet; liveBytes: Uint8Array } }).value;
      // Commits that change something get the next LSN; one that touched nothing keeps the last.
      if (!isEmptyWriteSet(writeSet)) expect(commit.lsn).toBe(lsn + 1);
      else if (!onDb.expected.touched) expect(commit.lsn).toBe(lsn);
      else expect([lsn, lsn + 1]).toContain(commit.lsn);
      lsn = commit.lsn;
      expect(db.lsn).toBe(lsn);
      expect(commit.value).toBe(onDb.expected.created.length);

      // The write set, through the codec, reproduces the commit in the replica; twice is harmless.
      const record = encodeWriteSet(writeSet, internal.schema);
      // The commit path (byte copies of runs, straight from the columns) writes the same bytes.
      expect(Buffer.from(liveBytes).equals(Buffer.from(record))).toBe(true);
      const decoded = decodeWriteSet(record, replica.schema);
      expect(decoded).toEqual(writeSet);
      log.push(record);
      applyWriteSet(replica.world, decoded);
      const expectedDump = dumpWorld(internal.world);
      expect(dumpWorld(replica.world)).toEqual(expectedDump);
      applyWriteSet(replica.world, decodeWriteSet(record, replica.schema));
      expect(dumpWorld(replica.world)).toEqual(expectedDump);
      applyEncodedWriteSet(byteReplica.world, new ByteReader(record), byteReplica.schema);
      expect(dumpWorld(byteReplica.world)).toEqual(expectedDump);
      applyEncodedWriteSet(byteReplica.world, new ByteReader(record), byteReplica.schema);
      expect(dumpWorld(byteReplica.world)).toEqual(expectedDump);
    } else {
      expect(db.lsn).toBe(lsn);
    }

    // Every read after the transaction: the database, the internal world and the replica agree
    // with the model, registry state and bitecs membership included.
    expectSameReads(db, model, known);
    expectSameColumns(db, model);
    expect(db.entityCount).toBe(model.liveIds().length);
    expect(dumpWorld(internal.world)).toEqual(model.dump());
    expect(dumpWorld(replica.world)).toEqual(model.dump());
    expect(dumpWorld(byteReplica.world)).toEqual(model.dump());
    const nextId = model.nextId();
    expect(probeNextId((fn) => db.transact(fn))).toBe(nextId);
    expect(probeNextId((fn) => internal.transact(fn))).toBe(nextId);
    expect(probeNextId((fn) => replica.transact(fn))).toBe(nextId);
    expect(probeNextId((fn) => byteReplica.transact(fn))).toBe(nextId);
  }

  // Replaying any suffix of the log again over the final world converges on it.
  const final = model.dump();
  for (let from = 0; from < log.length; from++) {
    const world = new World(REGISTERED);
    const byteWorld = new World(REGISTERED);
    const schema = world.tables.map((table) => table.fields);
    for (const record of [...log, ...log.slice(from)]) {
      applyWriteSet(world, decodeWriteSet(record, schema));
      applyEncodedWriteSet(byteWorld, new ByteReader(record), schema);
    }
    expect(dumpWorld(world), `log replayed again from record ${from}`).toEqual(final);
    expect(dumpWorld(byteWorld), `log replayed again from record ${from}, from bytes`).toEqual(final);
  }
  await db.close();
}

describe('transactions against a plain model (fast-check)', () => {
  it('agree on every outcome and read, and their write sets replay exactly', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(txArb, { minLength: 1, maxLength: 24, size: 'medium' }), async (program) => {
        await runProgram(program);
      }),
      { numRuns: 150 },
    );
  });
});
