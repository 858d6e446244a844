/**
 * Property: under any configuration, any sequence of operations and any crash points, what
 * recovery yields is a committed prefix of what the plain model (test/helpers/model.ts: Maps, no
 * typed columns, no journal, no WAL) went through, at least as long as what was acknowledged.
 *
 * fast-check generates a configuration (segment size, batch size, default durability, snapshot
 * policy by commit count and WAL bytes, keep, fullEvery, snapshot and archive compression,
 * archive retention by count and bytes) and a program: segments of operations, each ended by a
 * crash. Operations are transactions of every kind (test/helpers/workload.ts: creates, destroys,
 * adds, sets, removes, strings, entity references, arrays, tags, read-only and net-no-op
 * transactions), with a random durability override, some throwing part-way (nothing changes,
 * nothing is logged); bulk creations spanning snapshot chunks; snapshots, awaited or running in
 * the background; flushes; closes and reopens; run-time configuration changes; event-loop turns.
 * A segment's crash comes at a random I/O call, or after its last operation, and leaves a
 * process-crash image or a power-loss image (unsynced bytes dropped, kept, torn, or reordered per
 * file and directory, seeded).
 *
 * Every transaction runs against the database and the model; both must agree on whether it got an
 * LSN, and on the world after it. A clean reopen must give back exactly the model's world at the last LSN. After each crash
 * the directory must open, at an LSN at least the acknowledged one, with exactly the model's
 * world at that LSN, no damaged snapshot or manifest reported, and a snapshot at least as new as
 * the newest acknowledged db.snapshot(); the model then rolls back to that LSN and the next
 * segment goes on from the recovered directory.
 *
 * Replay: a failure prints fast-check's seed and path; run
 * `ECSDB_TEST_SEED=<seed> ECSDB_TEST_PATH=<path> npx vitest run test/proof/crash.property.test.ts`.
 * Size: ECSDB_TEST_CRASH_PROPERTY_RUNS programs (default 400).
 */
import { expect, test } from 'vitest';
import fc from 'fast-check';
import { open, type Database, type OpenOptions, type Transaction } from '../../src/index.js';
import type { AnyComponentDef } from '../../src/schema/component.js';
import { SimulatedStorage, type TearMode } from '../../src/storage/simulated-storage.js';
import { Model } from '../helpers/model.js';
import { reportFamily } from '../helpers/proof-summary.js';
import { HERMETIC, MANUAL_SNAPSHOTS, bulkThenWorkload, canonical } from '../helpers/snapshot-dir.js';
import { WORKLOAD_COMPONENTS, dumpDatabase, workloadStep } from '../helpers/workload.js';

const RUNS = Number(process.env.ECSDB_TEST_CRASH_PROPERTY_RUNS ?? 400);
const DIR = '/data/db';

interface Config {
  readonly durability: 'strict' | 'buffered';
  readonly syncMethod: 'fdatasync' | 'dsync';
  readonly segmentSizeBytesMax: number;
  readonly preallocateBytes: number;
  readonly batchSizeBytesMax: number;
  readonly everyCommits: number;
  readonly walBytesMax: number;
  readonly keep: number;
  readonly fullEvery: number;
  readonly snapshotCompress: boolean;
  readonly archiveCompress: boolean;
  readonly segmentCountMax: number;
  readonly sizeBytesMax: number;
}

type Command =
  | { readonly kind: 'tx'; readonly seed: number; readonly durability: 'strict' | 'buffered' | undefined; readonly throws: boolean }
  | { readonly kind: 'bulk'; readonly seed: number; readonly count: number }
  | { readonly kind: 'snapshot'; readonly wait: boolean }
  | { readonly kind: 'flush' }
  | { readonly kind: 'turn' }
  | { readonly kind: 'reopen' }
  | { readonly kind: 'configure'; readonly fullEvery: number; readonly keep: number; readonly archiveCompress: boolean };

interface Crash {
  /** Crash at this I/O call counted from the segment's start, or after the last operation. */
  readonly atCall: number | undefined;
  /** 'process' keeps everything written (SIGKILL); a tear mode is a power loss. */
  readonly image: 'process' | TearMode;
  readonly seed: number;
}

interface Segment {
  readonly commands: Command[];
  readonly crash: Crash;
}

const configArb: fc.Arbitrary<Config> = fc.record({
  durability: fc.constantFrom('strict' as const, 'buffered' as const),
  syncMethod: fc.constantFrom('fdatasync' as const, 'dsync' as const),
  segmentSizeBytesMax: fc.integer({ min: 4096, max: 16_384 }),
  preallocateBytes: fc.oneof(fc.constant(0), fc.integer({ min: 64, max: 8192 })),
  batchSizeBytesMax: fc.integer({ min: 1, max: 8192 }),
  everyCommits: fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 40 })),
  walBytesMax: fc.oneof(fc.constant(0), fc.integer({ min: 1000, max: 20_000 })),
  keep: fc.integer({ min: 1, max: 3 }),
  fullEvery: fc.integer({ min: 1, max: 4 }),
  snapshotCompress: fc.boolean(),
  archiveCompress: fc.boolean(),
  segmentCountMax: fc.integer({ min: 0, max: 3 }),
  sizeBytesMax: fc.oneof(fc.constant(0), fc.integer({ min: 1000, max: 30_000 })),
});

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('tx' as const),
      seed: fc.nat(),
      durability: fc.constantFrom(undefined, 'strict' as const, 'buffered' as const),
      throws: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bulk' as const), seed: fc.nat(), count: fc.integer({ min: 20, max: 400 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), wait: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'turn' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('configure' as const), fullEvery: fc.integer({ min: 1, max: 4 }), keep: fc.integer({ min: 1, max: 3 }), archiveCompress: fc.boolean() }),
  },
);

const segmentArb: fc.Arbitrary<Segment> = fc.record({
  commands: fc.array(commandArb, { minLength: 1, maxLength: 30 }),
  crash: fc.record({
    atCall: fc.option(fc.nat(250), { nil: undefined }),
    image: fc.constantFrom('process' as const, 'none' as const, 'all' as const, 'random' as const, 'reorder' as const),
    seed: fc.nat(),
  }),
});

const programArb = fc.record({ config: configArb, segments: fc.array(segmentArb, { minLength: 1, maxLength: 3 }) });

function optionsOf(config: Config, storage: SimulatedStorage): OpenOptions {
  return {
    ...HERMETIC,
    dir: DIR,
    storage,
    components: WORKLOAD_COMPONENTS,
    durability: config.durability,
    wal: {
      syncMethod: config.syncMethod,
      segmentSizeBytesMax: config.segmentSizeBytesMax,
      preallocateBytes: config.preallocateBytes,
      batchSizeBytesMax: config.batchSizeBytesMax,
      flushIntervalMs: 60_000,
    },
    snapshot: {
      ...MANUAL_SNAPSHOTS,
      everyCommits: config.everyCommits,
      walBytesMax: config.walBytesMax,
      keep: config.keep,
      fullEvery: config.fullEvery,
      compress: config.snapshotCompress,
      chunkSlots: 256,
    },
    archive: { compress: config.archiveCompress, segmentCountMax: config.segmentCountMax, sizeBytesMax: config.sizeBytesMax },
  };
}

/** The model as a Transaction, for the workload's transaction bodies (ids in ascending slot order, as the database's). */
/**
 * The model behind the Transaction interface. `written` collects the cells whose fields an
 * add or set wrote: ecsdb logs a transaction that wrote a field, even one that wrote back the
 * value it had (docs/api.md), so the LSN check counts those as changes too.
 */
function modelTransaction(model: Model, written: [id: number, def: AnyComponentDef][] = []): Transaction {
  const adapter = {
    query: (...defs: AnyComponentDef[]) => model.query(defs),
    create: () => model.create(),
    destroy: (id: number) => model.destroy(id),
    add: (id: number, def: AnyComponentDef, values?: unknown) => {
      model.add(id, def, values);
      if (def.fieldNames.length > 0) written.push([id, def]);
    },
    set: (id: number, def: AnyComponentDef, values: unknown) => {
      model.set(id, def, values);
      if (Object.values(values as object).some((value) => value !== undefined)) written.push([id, def]);
    },
    remove: (id: number, def: AnyComponentDef) => model.remove(id, def),
    get: (id: number, def: AnyComponentDef) => model.get(id, def),
    has: (id: number, def: AnyComponentDef) => model.has(id, def),
    exists: (id: number) => model.isAlive(id),
  };
  return adapter as unknown as Transaction;
}

/** The model's world in dumpDatabase's shape. */
function modelDump(model: Model): string {
  return canonical(model.liveIds().map((id) => [id, ...WORKLOAD_COMPONENTS.map((def) => (model.has(id, def) ? model.get(id, def) : null))]));
}

class RolledBack extends Error {}

/** The model's history: its state after every LSN (index = LSN), and what was acknowledged. */
interface History {
  models: Model[];
  dumps: string[];
  acknowledged: number;
  published: number;
  /** Crash states checked (for the summary). */
  crashes: number;
  /** Failures of background work that no crash explains. */
  errors: unknown[];
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function body(command: Extract<Command, { kind: 'tx' | 'bulk' }>, index: number): (tx: Transaction) => void {
  return (tx) => {
    if (command.kind === 'bulk') bulkThenWorkload(command.seed, command.count)(tx, 0);
    else workloadStep(tx, command.seed, index);
    if (command.kind === 'tx' && command.throws) throw new RolledBack('the callback throws after its writes');
  };
}

/** Runs one transaction against the database and the model; both must agree on its LSN. */
function transact(db: Database, history: History, command: Extract<Command, { kind: 'tx' | 'bulk' }>, index: number): void {
  const model = history.models[history.models.length - 1].clone();
  const run = body(command, index);
  let modelThrew = false;
  const written: [id: number, def: AnyComponentDef][] = [];
  try {
    run(modelTransaction(model, written));
  } catch (error) {
    if (!(error instanceof RolledBack)) throw error;
    modelThrew = true;
  }
  const lsnBefore = db.lsn;
  let commit;
  try {
    commit = db.transact(run, command.kind === 'tx' && command.durability !== undefined ? { durability: command.durability } : undefined);
  } catch (error) {
    if (!(error instanceof RolledBack)) throw error;
    expect(modelThrew, 'the model threw too').toBe(true);
    expect(db.lsn, 'a rolled-back transaction gets no LSN').toBe(lsnBefore);
    return;
  }
  expect(modelThrew, 'the database committed what the model rolled back').toBe(false);
  const dump = modelDump(model);
  // A write counts where its cell is still there at the end (written back to the same value, or
  // removed and added again as it was, it changes no value but is logged).
  const wroteCell = written.some(([id, def]) => model.isAlive(id) && model.has(id, def));
  const changed =
    wroteCell || dump !== history.dumps[history.dumps.length - 1] || canonical(model.dump().registry) !== canonical(history.models[history.models.length - 1].dump().registry);
  expect(commit.lsn, changed ? 'a transaction that changed something gets the next LSN' : 'a transaction that changed nothing gets no LSN').toBe(lsnBefore + (changed ? 1 : 0));
  if (changed) {
    history.models.push(model);
    history.dumps.push(dump);
  }
  expect(canonical(dumpDatabase(db)), `after LSN ${commit.lsn} the database's world differs from the model's`).toBe(dump);
  const lsn = commit.lsn;
  commit.durable.then(
    () => (history.acknowledged = Math.max(history.acknowledged, lsn)),
    () => undefined,
  );
}

/** Runs a segment's commands until they end or the storage crashes; returns the open database. */
async function runCommands(storage: SimulatedStorage, config: Config, segment: Segment, history: History, pending: Promise<unknown>[]): Promise<Database | undefined> {
  let db: Database | undefined;
  try {
    db = await open(optionsOf(config, storage));
    for (const [index, command] of segment.commands.entries()) {
      switch (command.kind) {
        case 'tx':
        case 'bulk':
          transact(db, history, command, index);
          break;
        case 'snapshot': {
          const snapshot = db.snapshot().then((entry) => void (history.published = Math.max(history.published, entry.endLsn)));
          if (command.wait) await snapshot;
          // A background snapshot may fail only because the storage crashed.
          else pending.push(snapshot.catch((error: unknown) => void (storage.crashed || history.errors.push(error))));
          break;
        }
        case 'flush':
          await db.flush();
          break;
        case 'turn':
          await nextTurn();
          break;
        case 'reopen':
          await db.close();
          db = undefined;
          db = await open(optionsOf(config, storage));
          expect(db.lsn, 'a clean reopen is at the last LSN').toBe(history.dumps.length - 1);
          expect(canonical(dumpDatabase(db)), 'a clean reopen holds the model world').toBe(history.dumps[history.dumps.length - 1]);
          break;
        case 'configure':
          db.configure({ snapshot: { fullEvery: command.fullEvery, keep: command.keep }, archive: { compress: command.archiveCompress } });
          break;
      }
    }
    return db;
  } catch (error) {
    if (!storage.crashed) throw error;
    return db;
  }
}

/** Runs one segment and its crash; returns the crash image. */
async function runSegment(storage: SimulatedStorage, config: Config, segment: Segment, history: History): Promise<SimulatedStorage> {
  if (segment.crash.atCall !== undefined) storage.crashAt(storage.ioCount + segment.crash.atCall);
  const pending: Promise<unknown>[] = [];
  const db = await runCommands(storage, config, segment, history, pending);
  const { image, seed } = segment.crash;
  const survivor = image === 'process' ? storage.clone() : storage.powerLossImage({ tear: image, seed });
  storage.crash(); // the rest of this process's I/O fails, as after a power loss
  await db?.close().catch(() => undefined);
  await Promise.all(pending);
  if (history.errors.length > 0) throw history.errors[0];
  // Acknowledgements of fsyncs made before the crash land in these turns.
  await nextTurn();
  return survivor;
}

/** Opens a crash image and checks it against the history; rolls the history back to it. */
async function recover(survivor: SimulatedStorage, config: Config, history: History, where: string): Promise<void> {
  const db = await open(optionsOf(config, survivor)).catch((error: Error) => expect.fail(`${where}: unopenable: ${error.message}`));
  const recovered = db.lsn;
  expect(recovered, `${where}: acknowledged LSN ${history.acknowledged} lost`).toBeGreaterThanOrEqual(history.acknowledged);
  expect(recovered, `${where}: recovered past the last commit`).toBeLessThan(history.dumps.length);
  const dump = canonical(dumpDatabase(db));
  if (dump !== history.dumps[recovered]) {
    expect(JSON.parse(dump), `${where}: the world differs from the model at LSN ${recovered}`).toEqual(JSON.parse(history.dumps[recovered]));
  }
  expect(db.recovery!.skippedSnapshots, `${where}: damaged snapshot reported`).toEqual([]);
  expect(db.recovery!.manifestProblem, `${where}: damaged manifest reported`).toBeUndefined();
  expect(db.recovery!.snapshot?.endLsn ?? 0, `${where}: the acknowledged snapshot at LSN ${history.published} was lost`).toBeGreaterThanOrEqual(history.published);
  history.models.length = recovered + 1;
  history.dumps.length = recovered + 1;
  // What open() reports durable is: it survives the next crash.
  history.acknowledged = db.durableLsn;
  await db.close();
  history.crashes++;
}

async function runProgram(program: { config: Config; segments: Segment[] }): Promise<number> {
  const empty = Model.empty(WORKLOAD_COMPONENTS);
  const history: History = { models: [empty], dumps: [modelDump(empty)], acknowledged: 0, published: 0, crashes: 0, errors: [] };
  let storage = new SimulatedStorage({ seed: 1 });
  for (const [index, segment] of program.segments.entries()) {
    const survivor = await runSegment(storage, program.config, segment, history);
    const where = `segment ${index}, crash ${segment.crash.atCall === undefined ? 'after its last operation' : `at its I/O call ${segment.crash.atCall}`} (${segment.crash.image}, seed ${segment.crash.seed})`;
    await recover(survivor, program.config, history, where);
    storage = survivor;
  }
  return history.crashes;
}

/** fast-check's parameters, with a seed and path from the environment to replay a failure. */
function checkParameters(): fc.Parameters<[{ config: Config; segments: Segment[] }]> {
  const seed = process.env.ECSDB_TEST_SEED;
  const path = process.env.ECSDB_TEST_PATH;
  return {
    numRuns: RUNS,
    ...(seed === undefined || seed === '' ? {} : { seed: Number(seed) }),
    ...(path === undefined || path === '' ? {} : { path, endOnFailure: true }),
  };
}

test('random configurations, operations and crash points always recover to an acknowledged prefix of the model', async () => {
  let crashes = 0;
  const details = await fc.check(
    fc.asyncProperty(programArb, async (program) => {
      crashes += await runProgram(program);
    }),
    checkParameters(),
  );
  if (details.failed) {
    const replay = `replay: ECSDB_TEST_SEED=${details.seed} ECSDB_TEST_PATH=${details.counterexamplePath} npx vitest run test/proof/crash.property.test.ts`;
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    expect.fail(`${fc.defaultReportMessage(details)}\nGot error: ${error}\n${replay}`);
  }
  reportFamily('crash states', { states: crashes, 'acknowledged lost': 0, 'partial visible': 0, unopenable: 0 });
  console.log(`crash property: ${details.numRuns} programs, ${crashes} crash states (seed ${details.seed})`);
}, 600_000);
