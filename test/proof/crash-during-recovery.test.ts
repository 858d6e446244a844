/**
 * A crash while recovering from a crash. Recovery writes too: it takes over the stale lock, cuts
 * a torn WAL tail (truncate, or unlink of a segment whose header is torn), and the recovered
 * database's first snapshot rewrites the manifest, deletes stray temp files and unlisted
 * snapshots, and archives. A crash at any of those calls must leave a directory that still
 * opens, holds everything acknowledged (before the first crash, and by the recovered database
 * before the second), and equals the model at its recovered LSN.
 *
 * Base states are the distinct crash states of three matrix workloads (./workloads.ts): a WAL
 * with closes and reopens, a chain of compressed incremental snapshots with keep 1, and snapshots
 * interrupted by close(). Each is classified by the recovery work its open() does (an open of a
 * copy, watching the I/O calls); a few states of every kind, spread over the workload, are
 * chosen. Then the recovery run (open, the next workload transaction strictly, a snapshot when
 * the workload takes snapshots, close) is crashed at each of its I/O calls, and every distinct
 * image (process crash, power loss: unsynced bytes dropped, kept, torn, reordered) is checked
 * like any crash state (test/helpers/crash-harness.ts). Failures name the state, e.g.
 * `matrix-mixed-reopen-s22@57/tear-random-1>recovery@9/tear-none`, which
 * ECSDB_TEST_CRASH_REPLAY replays.
 *
 * Size: ECSDB_CRASH_RECOVERY_STATES base states per kind of recovery work and workload (default 2).
 */
import { describe, expect, test } from 'vitest';
import { open } from '../../src/index.js';
import {
  EVERY_IMAGE,
  StateDeduper,
  Tally,
  callCountOf,
  captureStates,
  checkState,
  crashStatesOf,
  optionsFor,
  recoveryRun,
  replayFromEnv,
  workloadModel,
  type CrashState,
  type CrashWorkload,
} from '../helpers/crash-harness.js';
import { MATRIX_WORKLOADS } from './workloads.js';

const STATES_PER_KIND = Number(process.env.ECSDB_CRASH_RECOVERY_STATES ?? 2);
const WORKLOAD_IDS = ['matrix-mixed-reopen-s22', 'matrix-chain3-keep1-compressed-s23', 'matrix-close-during-snapshot-s30'];

/** The recovery work open() does on a copy of the state, as a sorted list of kinds. */
async function recoveryWork(workload: CrashWorkload, state: CrashState): Promise<string> {
  const copy = state.storage.clone();
  const work = new Set<string>();
  copy.onCall = (call) => {
    const where = call.path.includes('/wal/') ? 'wal' : call.path.endsWith('/LOCK') ? 'lock' : 'other';
    if (call.op === 'truncate' && where === 'wal') work.add('cut torn tail');
    if (call.op === 'unlink' && where === 'wal') work.add('drop torn segment');
    if (call.op === 'unlink' && where === 'lock') work.add('take over lock');
  };
  const db = await open(optionsFor(workload, copy));
  copy.onCall = undefined;
  const files = [...copy.snapshotFiles().keys()];
  if (files.some((path) => path.endsWith('.tmp'))) work.add('stray temp file');
  const listed = new Set(db.snapshots.map((entry) => entry.file));
  if (files.some((path) => path.endsWith('.snap') && !listed.has(path.slice(path.lastIndexOf('/') + 1)))) work.add('unlisted snapshot');
  if (db.recovery!.snapshot !== undefined) work.add('from snapshot');
  if (db.recovery!.wal.recordsReplayed > 0) work.add('replay');
  await db.close();
  return [...work].sort().join(', ') || 'nothing';
}

/**
 * Keeps up to `perKind` states of each kind, spread over the workload: while collecting, a
 * kind's list is thinned to every other state whenever it grows past 4 × perKind.
 */
class Picker {
  readonly #byKind = new Map<string, CrashState[]>();

  constructor(private readonly perKind: number) {}

  offer(kind: string, state: CrashState): void {
    let states = this.#byKind.get(kind);
    if (states === undefined) this.#byKind.set(kind, (states = []));
    states.push(state);
    if (states.length > 4 * this.perKind) this.#byKind.set(kind, states.filter((_, index) => index % 2 === 0));
  }

  picked(): { kind: string; state: CrashState }[] {
    const picked: { kind: string; state: CrashState }[] = [];
    for (const [kind, states] of this.#byKind) {
      const step = Math.max(1, Math.floor(states.length / this.perKind));
      for (let index = states.length - 1, taken = 0; index >= 0 && taken < this.perKind; index -= step, taken++) {
        picked.push({ kind, state: states[index] });
      }
    }
    return picked;
  }

  get kinds(): string[] {
    return [...this.#byKind.keys()].sort();
  }
}

/** Crashes the recovery of `base` at each of its I/O calls and checks every distinct image. */
async function checkCrashesDuringRecovery(workload: CrashWorkload, model: Awaited<ReturnType<typeof workloadModel>>, base: CrashState, tally: Tally): Promise<number> {
  const replay = replayFromEnv()?.recovery;
  const run = recoveryRun(workload, model);
  const dry = base.storage.clone();
  await run(dry, { acknowledged: base.acknowledged, published: base.published });
  const callCount = dry.ioCount;
  const states = await captureStates(
    () => base.storage.clone(),
    run,
    { from: replay?.call ?? 0, to: replay === undefined ? callCount : replay.call + 1, prefix: `${base.name}>recovery`, images: EVERY_IMAGE, base },
    new StateDeduper(),
    false,
  );
  for (const state of states) {
    if (replay !== undefined && state.name !== replay.name) continue;
    tally.add(await checkState(workload, model, state, { snapshotAfter: false }));
  }
  return callCount;
}

describe.each(MATRIX_WORKLOADS.filter(({ workload }) => WORKLOAD_IDS.includes(workload.id)))('crash during recovery: $workload.id', ({ workload }) => {
  test('a crash at any I/O call of a recovery, and of what the recovered database does first, leaves a state that recovers', async () => {
    const model = await workloadModel(workload);
    const callCount = await callCountOf(workload);
    const replay = replayFromEnv();
    const picker = new Picker(replay === undefined ? STATES_PER_KIND : 1);
    for await (const state of crashStatesOf(workload, callCount, EVERY_IMAGE, false)) {
      picker.offer(await recoveryWork(workload, state), state);
    }
    const picked = picker.picked();
    if (replay === undefined) {
      // The base states must cover the recovery work this test is about.
      const kinds = picker.kinds.join(' | ');
      expect(kinds, 'some state needs its torn tail cut').toContain('cut torn tail');
      expect(kinds, 'some state has a stale lock').toContain('take over lock');
      if (workload.options.snapshot !== undefined) {
        expect(kinds, 'some state has a stray temp file').toContain('stray temp file');
        expect(kinds, 'some state has an unlisted snapshot').toContain('unlisted snapshot');
      }
    }
    const tally = new Tally();
    let recoveryCalls = 0;
    for (const { state } of picked) recoveryCalls += await checkCrashesDuringRecovery(workload, model, state, tally);
    console.log(
      `crash-during-recovery states (${workload.id}): ${tally.states} distinct, from ${picked.length} base states ` +
        `(${recoveryCalls} recovery I/O calls); kinds of recovery work: ${picker.kinds.join(' | ')}`,
    );
    tally.report('crash-during-recovery states');
  }, 300_000);
});
