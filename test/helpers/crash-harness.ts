/**
 * Crash states of a seeded workload over SimulatedStorage, and the checks every one must pass;
 * shared by every power-loss test (test/wal/crash.test.ts, test/snapshot/crash.test.ts and
 * test/proof/).
 *
 * A crash state is what a crash leaves at the moment one I/O call is issued: the process-crash
 * image (every byte and name the process wrote, synced or not, as after SIGKILL) or a power-loss
 * image (SimulatedStorage.powerLossImage: unsynced bytes dropped, kept, torn at random, or
 * reaching the disk in a different order per file and directory). Capturing the images from
 * inside the I/O call hook (SimulatedStorage.onCall, which runs before the call has any effect)
 * lets one run of the workload yield the states of many calls, instead of one run per call: a
 * run stops with a crash at the end of a window of calls and captures every call of the window.
 * What counts as acknowledged is what the workload had seen resolve (`durable`, `db.snapshot()`)
 * before that call was issued, which is what an application would have been told before the
 * power failed.
 *
 * States are deduplicated per workload by their files' contents and what was acknowledged, so
 * the counts reported are distinct states, each checked once:
 * - the directory opens (else: unopenable);
 * - it holds every acknowledged commit (else: acknowledged lost), and the snapshot of every
 *   acknowledged db.snapshot() or a newer one;
 * - its world equals the model at exactly its recovered LSN, an LSN the workload committed
 *   (else: partial visible), so no transaction is ever partly visible;
 * - recovery found no damaged snapshot or manifest: a crash must not produce damage;
 * - it continues: the next workload transaction commits strictly at the next LSN and matches
 *   the model there; with `snapshotAfter`, a snapshot then leaves exactly the manifest's files
 *   in snapshots/ (stray temp files and unlisted snapshots removed).
 *
 * Every failure names its state, e.g. `wal-strict-s11@57/tear-random-5`: the workload, the call
 * index, the image. `ECSDB_TEST_CRASH_REPLAY=<state>` checks only that state (and the states of
 * a crash during its recovery, for `<state>>recovery@<j>/<image>`), with the same seeds.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { expect } from 'vitest';
import { open, type Database, type OpenOptions } from '../../src/index.js';
import { SimulatedStorage, type CrashOptions, type StorageCallInfo } from '../../src/storage/simulated-storage.js';
import { parseSegmentFileName } from '../../src/wal/format.js';
import { reportFamily } from './proof-summary.js';
import { HERMETIC, canonical, snapshotsDirOf, stepModel, type WorkloadStep } from './snapshot-dir.js';
import { WORKLOAD_COMPONENTS, dumpDatabase } from './workload.js';

export const CRASH_DIR = '/data/db';

/** Names one state to check alone (see the header). */
export const REPLAY_ENV = 'ECSDB_TEST_CRASH_REPLAY';

/** A deterministic workload: the same commits, snapshots and reopens on every run. */
export interface CrashWorkload {
  /** Short and unique: it starts every state's name. */
  readonly id: string;
  readonly commits: number;
  readonly step: WorkloadStep;
  /** open() options besides dir, storage and components (durability defaults to buffered). */
  readonly options: Partial<OpenOptions>;
  /** Whether commit `index` asks for strict durability. */
  readonly strict: (index: number) => boolean;
  /**
   * Commit indexes after which db.snapshot() is requested (once the one before has finished); it
   * runs while commits go on.
   */
  readonly snapshotAt?: readonly number[];
  /** Commit indexes after which the database is closed and opened again. */
  readonly reopenAt?: readonly number[];
  /** Whether the workload gives the event loop a turn after commit `index`. */
  readonly yieldAfter: (index: number) => boolean;
}

/** What the workload has been told so far. */
export interface Progress {
  /** Highest LSN whose `durable` resolved. */
  acknowledged: number;
  /** End LSN of the newest snapshot whose db.snapshot() resolved. */
  published: number;
}

/** The snapshots one complete run took, for tests that check their workload covers them. */
export interface RunRecord {
  readonly snapshots: { chunkCount: number; startLsn: number; endLsn: number; base: string | undefined }[];
}

export function optionsFor(workload: CrashWorkload, storage: SimulatedStorage): OpenOptions {
  return { ...HERMETIC, durability: 'buffered', ...workload.options, dir: CRASH_DIR, storage, components: WORKLOAD_COMPONENTS };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs the workload from an empty directory until it ends or the storage crashes. */
export async function runWorkload(workload: CrashWorkload, storage: SimulatedStorage, progress: Progress, record?: RunRecord): Promise<void> {
  const snapshotErrors: unknown[] = [];
  try {
    let db = await open(optionsFor(workload, storage));
    let snapshots: Promise<void>[] = [];
    for (let index = 0; index < workload.commits; index++) {
      const commit = db.transact((tx) => workload.step(tx, index), { durability: workload.strict(index) ? 'strict' : 'buffered' });
      const lsn = commit.lsn;
      commit.durable.then(
        () => (progress.acknowledged = Math.max(progress.acknowledged, lsn)),
        () => undefined,
      );
      if (workload.snapshotAt?.includes(index) === true) {
        // A snapshot requested while the one before still runs (its archival included) would
        // join it; every requested snapshot is to be taken, so the workload lets it finish first.
        await Promise.all(snapshots);
        snapshots.push(
          db.snapshot().then(
            (entry) => {
              progress.published = Math.max(progress.published, entry.endLsn);
              record?.snapshots.push({ chunkCount: entry.chunkCount, startLsn: entry.startLsn, endLsn: entry.endLsn, base: entry.base });
            },
            (error: unknown) => void snapshotErrors.push(error),
          ),
        );
      }
      if (workload.reopenAt?.includes(index) === true) {
        await Promise.all(snapshots);
        snapshots = [];
        await db.close();
        db = await open(optionsFor(workload, storage));
      }
      if (workload.yieldAfter(index)) await nextTurn();
    }
    await Promise.all(snapshots);
    await db.close();
  } catch (error) {
    if (!storage.crashed) throw error;
  }
  if (!storage.crashed && snapshotErrors.length > 0) throw snapshotErrors[0];
  // Acknowledgements that settled just before the crash land in these microtasks.
  await nextTurn();
}

/** The workload run in memory: the world after every LSN, and where to continue from each. */
export interface WorkloadModel {
  /** The dump after each LSN (index = LSN), for diffs. */
  readonly dumps: unknown[][];
  /** canonical() of each dump, for fast comparison. */
  readonly canonical: string[];
  /** The workload index to run next once the world is at LSN r (steps that change nothing get no LSN). */
  readonly nextIndex: number[];
  /** How many workload steps the model ran. */
  readonly steps: number;
}

/** Steps modelled beyond the workload, so every recovered state can be continued. */
const MODEL_EXTRA_STEPS = 40;

export async function workloadModel(workload: Pick<CrashWorkload, 'step' | 'commits'>): Promise<WorkloadModel> {
  const steps = workload.commits + MODEL_EXTRA_STEPS;
  const { dumps, nextIndex } = await stepModel(workload.step, steps);
  return { dumps, canonical: dumps.map(canonical), nextIndex, steps };
}

/** The LSN the first `commits` workload steps end at. */
export function lastLsnOf(model: WorkloadModel, commits: number): number {
  let lsn = 0;
  while (lsn + 1 < model.nextIndex.length && model.nextIndex[lsn + 1] <= commits) lsn++;
  return lsn;
}

/** An image a crash at one call leaves: the process-crash image, or a power loss. */
export type ImageKind = { readonly kind: 'process' } | { readonly kind: 'power'; readonly crash: CrashOptions };

/**
 * Process crash, and power loss with unsynced bytes dropped, kept, torn twice, reordered twice
 * and kept as a random subset of their sectors once.
 */
export const EVERY_IMAGE: readonly ImageKind[] = manyImages(2, 2);

/** EVERY_IMAGE with more seeds: more torn lengths and more orders where writes are pending. */
export function manyImages(randomSeeds: number, reorderSeeds: number, sectorSeeds = 1): ImageKind[] {
  return [
    { kind: 'process' },
    { kind: 'power', crash: { tear: 'none' } },
    { kind: 'power', crash: { tear: 'all' } },
    ...Array.from({ length: randomSeeds }, (_, i): ImageKind => ({ kind: 'power', crash: { tear: 'random', seed: i + 1 } })),
    ...Array.from({ length: reorderSeeds }, (_, i): ImageKind => ({ kind: 'power', crash: { tear: 'reorder', seed: i + 1 } })),
    ...Array.from({ length: sectorSeeds }, (_, i): ImageKind => ({ kind: 'power', crash: { tear: 'sectors', seed: i + 1 } })),
  ];
}

/** One captured crash state, ready to open. */
export interface CrashState {
  /** Its replayable name (see the header). */
  readonly name: string;
  readonly storage: SimulatedStorage;
  /** What the run had been told before the crash. */
  readonly acknowledged: number;
  readonly published: number;
  /** The call the crash interrupted, for messages. */
  readonly call: StorageCallInfo;
  readonly process: boolean;
}

/** The seed of an image's random choices: fixed by the image and the call, different per call. */
function imageSeed(image: ImageKind, callIndex: number): number | undefined {
  if (image.kind === 'process' || image.crash.seed === undefined) return undefined;
  return (image.crash.seed * 1_000_003 + callIndex * 7919) >>> 0;
}

function imageName(image: ImageKind): string {
  return image.kind === 'process' ? 'process' : `tear-${image.crash.tear}${image.crash.seed === undefined ? '' : `-${image.crash.seed}`}`;
}

function takeImage(storage: SimulatedStorage, image: ImageKind, callIndex: number): SimulatedStorage {
  if (image.kind === 'process') return storage.clone();
  const seed = imageSeed(image, callIndex);
  return storage.powerLossImage(seed === undefined ? image.crash : { ...image.crash, seed });
}

/** Keeps the first of every set of identical states (same files, same acknowledgements). */
export class StateDeduper {
  readonly #seen = new Set<string>();

  /** True the first time a state is offered. */
  admit(state: Pick<CrashState, 'storage' | 'acknowledged' | 'published' | 'process'>, checksProcess = false): boolean {
    const hash = createHash('sha1');
    for (const [path, bytes] of state.storage.snapshotFiles()) {
      hash.update(`${path}\0${bytes.length}\0`);
      hash.update(bytes);
    }
    const key = `${hash.digest('base64')} ${state.acknowledged} ${state.published} ${checksProcess && state.process}`;
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    return true;
  }
}

/** A parsed ECSDB_TEST_CRASH_REPLAY, or undefined when every state is to be checked. */
export interface Replay {
  readonly base: { name: string; workload: string; call: number };
  readonly recovery: { name: string; call: number } | undefined;
}

export function replayFromEnv(): Replay | undefined {
  const value = process.env[REPLAY_ENV];
  if (value === undefined || value === '') return undefined;
  const [base, recovery] = value.split('>');
  const match = /^(.+)@(\d+)\/[\w-]+$/.exec(base);
  const recoveryMatch = recovery === undefined ? undefined : /^recovery@(\d+)\/[\w-]+$/.exec(recovery);
  if (match === null || recoveryMatch === null) throw new Error(`${REPLAY_ENV}=${value}: expected <workload>@<call>/<image>[>recovery@<call>/<image>]`);
  return {
    base: { name: base, workload: match[1], call: Number(match[2]) },
    recovery: recoveryMatch === undefined ? undefined : { name: value, call: Number(recoveryMatch[1]) },
  };
}

/** A run that can be crashed: the workload, or a recovery of a crash state. */
export type Run = (storage: SimulatedStorage, progress: Progress) => Promise<void>;

/**
 * Runs `run` on `start()` once, crashing it at call `to`, and captures the images of every call
 * in [from, to) that `deduper` has not seen yet.
 */
export async function captureStates(
  start: () => SimulatedStorage,
  run: Run,
  window: { from: number; to: number; prefix: string; images: readonly ImageKind[]; base?: Progress },
  deduper: StateDeduper,
  checksProcess = false,
): Promise<CrashState[]> {
  const storage = start();
  const progress: Progress = { acknowledged: window.base?.acknowledged ?? 0, published: window.base?.published ?? 0 };
  const states: CrashState[] = [];
  storage.onCall = (call) => {
    if (call.index < window.from || call.index >= window.to) return;
    for (const image of window.images) {
      const state: CrashState = {
        name: `${window.prefix}@${call.index}/${imageName(image)}`,
        storage: takeImage(storage, image, call.index),
        acknowledged: progress.acknowledged,
        published: progress.published,
        call,
        process: image.kind === 'process',
      };
      if (deduper.admit(state, checksProcess)) states.push(state);
    }
  };
  storage.crashAt(window.to);
  await run(storage, progress);
  return states;
}

export type FailureKind = 'acknowledged lost' | 'partial visible' | 'unopenable' | 'other';

export interface Failure {
  readonly kind: FailureKind;
  readonly message: string;
}

class CheckFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

function check(condition: boolean, kind: FailureKind, message: string): void {
  if (!condition) throw new CheckFailure(kind, message);
}

/** Commits the workload's next transaction(s) strictly until the LSN advances by one. */
export async function continueWorkload(db: Database, workload: CrashWorkload, model: WorkloadModel): Promise<void> {
  const from = db.lsn;
  let index = model.nextIndex[from];
  let commit;
  do {
    const stepIndex = index++;
    commit = db.transact((tx) => workload.step(tx, stepIndex), { durability: 'strict' });
  } while (commit.lsn === from && index < model.steps);
  await commit.durable;
  check(db.lsn === from + 1, 'other', `the next workload transaction after LSN ${from} committed at LSN ${db.lsn}`);
}

export interface CheckSettings {
  /** Take a snapshot after recovery and check it cleans up (see checkSnapshotCleansUp). */
  readonly snapshotAfter: boolean;
}

/** Opens a crash state and checks everything the header lists; undefined when all holds. */
export async function checkState(workload: CrashWorkload, model: WorkloadModel, state: CrashState, settings: CheckSettings): Promise<Failure | undefined> {
  let db: Database | undefined;
  try {
    try {
      db = await open(optionsFor(workload, state.storage));
    } catch (error) {
      throw new CheckFailure('unopenable', `open() failed: ${(error as Error).message}`);
    }
    checkRecovered(db, model, state);
    await continueWorkload(db, workload, model);
    checkRecovered(db, model, state);
    if (settings.snapshotAfter) await checkSnapshotCleansUp(db, state.storage);
    await db.close();
    return undefined;
  } catch (error) {
    await db?.close().catch(() => undefined);
    const kind = error instanceof CheckFailure ? error.kind : 'other';
    return { kind, message: `${describeState(state)}: ${kind}: ${(error as Error).message}` };
  }
}

/**
 * A snapshot of the recovered database leaves exactly the manifest's files in snapshots/, and no
 * live WAL segment (but the one being written) that the snapshot covers: whatever the crash left
 * half-done, stray temp files, unlisted snapshots, a segment under both its live and archived
 * names, is finished or removed.
 */
async function checkSnapshotCleansUp(db: Database, storage: SimulatedStorage): Promise<void> {
  const entry = await db.snapshot();
  const names = await storage.list(snapshotsDirOf(CRASH_DIR));
  const listed = db.snapshots.map((snapshot) => snapshot.file);
  check(names.join() === listed.join(), 'other', `snapshots/ after the next snapshot holds ${names.join()}, the manifest names ${listed.join()}`);
  const live = (await namesIn(storage, 'wal')).map((name) => parseSegmentFileName(name)).filter((lsn): lsn is number => lsn !== undefined);
  live.sort((a, b) => a - b);
  const covered = live.filter((firstLsn, index) => index + 1 < live.length && live[index + 1] - 1 <= entry.startLsn);
  check(covered.length === 0, 'other', `after a snapshot from LSN ${entry.startLsn}, wal/ still holds the segments from LSN ${covered.join(', ')}, which it covers`);
}

function checkRecovered(db: Database, model: WorkloadModel, state: CrashState): void {
  const recovered = db.lsn;
  const recovery = db.recovery!;
  check(recovered >= state.acknowledged, 'acknowledged lost', `recovered LSN ${recovered}, but LSN ${state.acknowledged} was acknowledged`);
  check(recovered < model.dumps.length, 'partial visible', `recovered LSN ${recovered} is past the workload`);
  if (canonical(dumpDatabase(db)) !== model.canonical[recovered]) {
    // The diff, for the message.
    try {
      expect(dumpDatabase(db)).toEqual(model.dumps[recovered]);
    } catch (error) {
      throw new CheckFailure('partial visible', `the world differs from the model at LSN ${recovered}: ${(error as Error).message.slice(0, 2000)}`);
    }
    throw new CheckFailure('partial visible', `the world differs from the model at LSN ${recovered} in -0, NaN or an infinity`);
  }
  check(recovery.skippedSnapshots.length === 0, 'other', `a crash left a damaged snapshot in the manifest: ${JSON.stringify(recovery.skippedSnapshots)}`);
  check(recovery.manifestProblem === undefined, 'other', `a crash damaged the manifest: ${recovery.manifestProblem}`);
  check(
    (recovery.snapshot?.endLsn ?? 0) >= state.published,
    'other',
    `the acknowledged snapshot at LSN ${state.published} was lost (recovered from ${recovery.snapshot?.file ?? 'the WAL alone'})`,
  );
}

export function describeState(state: CrashState): string {
  const call = `${state.call.op} ${state.call.path}${state.call.targetPath === undefined ? '' : ` -> ${state.call.targetPath}`}`;
  return (
    `crash state ${state.name} (crash as call ${state.call.index} was issued: ${call}; acknowledged LSN ${state.acknowledged}, ` +
    `snapshot LSN ${state.published}; replay: ${REPLAY_ENV}='${state.name}' npx vitest run ${testFile()})`
  );
}

function testFile(): string {
  const path = expect.getState().testPath;
  return path === undefined ? '<test file>' : path.slice(path.indexOf('/test/') + 1);
}

/** Counts of a family's checked states, by failure kind, with the first messages. */
export class Tally {
  states = 0;
  readonly failures: Failure[] = [];

  add(failure: Failure | undefined): void {
    this.states++;
    if (failure !== undefined) this.failures.push(failure);
  }

  count(kind: FailureKind): number {
    return this.failures.filter((failure) => failure.kind === kind).length;
  }

  /** Reports the family's line (see proof-summary.ts), then fails the test on any failure. */
  report(family: string): void {
    reportFamily(family, {
      states: this.states,
      'acknowledged lost': this.count('acknowledged lost'),
      'partial visible': this.count('partial visible'),
      unopenable: this.count('unopenable'),
    });
    const shown = this.failures.slice(0, 5).map((failure) => failure.message);
    expect(this.failures.length, `${this.failures.length} of ${this.states} states failed:\n${shown.join('\n')}`).toBe(0);
  }
}

/** Calls per run: captured images are held in memory until the run's window is checked. */
const WINDOW_CALLS = 48;

/** Counts the I/O calls of one complete run of the workload. */
export async function callCountOf(workload: CrashWorkload): Promise<number> {
  const dry = new SimulatedStorage({ seed: 1 });
  await runWorkload(workload, dry, { acknowledged: 0, published: 0 });
  return dry.ioCount;
}

/**
 * The distinct crash states at every call of the workload (or only the one a replay names),
 * one window of calls at a time.
 */
export async function* crashStatesOf(
  workload: CrashWorkload,
  callCount: number,
  images: readonly ImageKind[],
  checksProcess: boolean,
): AsyncGenerator<CrashState> {
  const replay = replayFromEnv();
  if (replay !== undefined && replay.base.workload !== workload.id) return;
  const deduper = new StateDeduper();
  const first = replay?.base.call ?? 0;
  const end = replay === undefined ? callCount : first + 1;
  for (let from = first; from < end; from += WINDOW_CALLS) {
    const to = Math.min(end, from + WINDOW_CALLS);
    const states = await captureStates(
      () => new SimulatedStorage({ seed: 1 }),
      (storage, progress) => runWorkload(workload, storage, progress),
      { from, to, prefix: workload.id, images },
      deduper,
      checksProcess,
    );
    for (const state of states) {
      if (replay === undefined || state.name === replay.base.name) yield state;
    }
  }
}

export interface EveryStateSettings extends Partial<CheckSettings> {
  readonly images?: readonly ImageKind[];
}

/**
 * Counts the workload's I/O calls, then captures and checks the distinct crash states at every
 * call (see the header). Returns the tally and the count of calls.
 */
export async function checkEveryCrashState(
  workload: CrashWorkload,
  model: WorkloadModel,
  settings: EveryStateSettings = {},
): Promise<{ tally: Tally; callCount: number }> {
  const callCount = await callCountOf(workload);
  const tally = new Tally();
  // A replay of a crash during recovery checks its base state in the recovery test only.
  if (replayFromEnv()?.recovery !== undefined) return { tally, callCount };
  const checkSettings: CheckSettings = { snapshotAfter: settings.snapshotAfter ?? false };
  for await (const state of crashStatesOf(workload, callCount, settings.images ?? EVERY_IMAGE, checkSettings.snapshotAfter)) {
    tally.add(await checkState(workload, model, state, checkSettings));
  }
  return { tally, callCount };
}

/**
 * What a recovered database does first, as a run that can be crashed: open() (the lock, replay,
 * cutting a torn tail), the next workload transaction, strictly, and for a workload with
 * snapshots a snapshot (which rewrites the manifest, deletes stray temp and unlisted snapshot
 * files, and archives), then close().
 */
export function recoveryRun(workload: CrashWorkload, model: WorkloadModel): Run {
  return async (storage, progress) => {
    try {
      const db = await open(optionsFor(workload, storage));
      await continueWorkload(db, workload, model);
      progress.acknowledged = Math.max(progress.acknowledged, db.lsn);
      if (workload.options.snapshot !== undefined) {
        const entry = await db.snapshot();
        progress.published = Math.max(progress.published, entry.endLsn);
      }
      await db.close();
    } catch (error) {
      if (!storage.crashed) throw error;
    }
    await nextTurn();
  };
}

/** Names in a directory of a crash state, or none when it does not exist. */
export async function namesIn(storage: SimulatedStorage, relative: string): Promise<string[]> {
  const path = join(CRASH_DIR, relative);
  return (await storage.stat(path)) === undefined ? [] : storage.list(path);
}
