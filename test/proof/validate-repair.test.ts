/**
 * `ecsdb validate` and `ecsdb repair` on damaged directories: a seeded subset of the corruption
 * fuzz's cases (the same seeds as corruption.test.ts, every STRIDE-th case of each base), each
 * written out to a real temporary directory, because the commands work on real directories.
 *
 * - validate must name every damaged file among its problems or, for a torn tail of the newest
 *   WAL segment, its warnings (and find no problem when the damage changed no byte's meaning);
 * - repair must then either make the directory open, to exactly the model's world at an LSN no
 *   lower than the last record before the first damaged one of the live WAL, or refuse with a
 *   typed error and leave every byte as it was (and then the directory must not open either:
 *   repair refuses only what open() refuses too).
 *
 * The commands are called in-process (validateDirectory, repairDirectory), as runCli does.
 * Size: ECSDB_FUZZ_REPAIR_CASES cases in all (default 400). ECSDB_FUZZ_CORRUPTION_SEED=<seed>
 * runs one case of either file again.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { repairDirectory } from '../../src/cli/repair.js';
import { validateDirectory } from '../../src/cli/validate.js';
import { EcsdbError, open } from '../../src/index.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import {
  CORRUPTION_BASES,
  bounded,
  buildCorruptionBase,
  caseSeed,
  corrupt,
  replaySeed,
  writeOut,
  type Corruption,
  type CorruptionBase,
} from '../helpers/corruption.js';
import { readTree } from '../helpers/db-dir.js';
import { reportFamily } from '../helpers/proof-summary.js';
import { canonical } from '../helpers/snapshot-dir.js';
import { dumpDatabase } from '../helpers/workload.js';

const SEED_VARIABLE = 'ECSDB_FUZZ_CORRUPTION_SEED';
const CASES = Number(process.env.ECSDB_FUZZ_REPAIR_CASES ?? 400);
/** Every STRIDE-th case of the corruption fuzz, so the subset spreads over its cases. */
const STRIDE = 24;

type Failure = 'missed by validate' | 'false alarms' | 'repair failed';

/** One case: validate, repair, open. Returns the failures (with why) and the outcome's name. */
async function runCase(base: CorruptionBase, corruption: Corruption, dir: string): Promise<{ failures: [Failure, string][]; outcome: string }> {
  const failures: [Failure, string][] = [];
  const validation = await bounded(validateDirectory(dir), 'validate');
  // A torn tail of the newest WAL segment (truncation or garbage at its end) is named as a
  // warning, not as damage: open() cuts it as a normal crash outcome (docs/cli.md).
  const named = new Set([...validation.problems, ...validation.warnings].map((p) => p.file));
  // Without a readable ecsdb.meta there is no database id or schema to check the rest against:
  // validate then reports the meta file alone (see validateDirectory).
  const expected = corruption.damaged.has('ecsdb.meta') ? ['ecsdb.meta'] : [...corruption.damaged];
  const missed = expected.filter((file) => !named.has(file));
  if (missed.length > 0) failures.push(['missed by validate', `validate did not name ${missed.join(', ')}; problems: ${JSON.stringify(validation.problems)}`]);
  if (corruption.damaged.size === 0 && !validation.ok) failures.push(['false alarms', `nothing was damaged, yet: ${JSON.stringify(validation.problems)}`]);

  const files = new FileStorage();
  const before = await readTree(files, dir);
  let repaired: Awaited<ReturnType<typeof repairDirectory>> | undefined;
  let refusal: unknown;
  try {
    repaired = await bounded(repairDirectory(dir), 'repair');
  } catch (error) {
    refusal = error;
  }
  if (refusal !== undefined) {
    if (!(refusal instanceof EcsdbError)) return { failures: [...failures, ['repair failed', `repair threw ${String((refusal as Error)?.stack ?? refusal)}`]], outcome: 'refused' };
    const after = await readTree(files, dir);
    if (JSON.stringify([...after]) !== JSON.stringify([...before])) failures.push(['repair failed', `repair refused (${refusal.message}) but changed the directory`]);
  }
  let db;
  try {
    db = await bounded(open({ dir, components: base.options.components!, ...base.options }), 'open() after repair');
  } catch (error) {
    if (refusal === undefined) failures.push(['repair failed', `repair returned ${JSON.stringify(repaired)}, yet open() fails: ${String(error)}`]);
    else if (!(error instanceof EcsdbError)) failures.push(['repair failed', `open() after a refused repair threw ${String(error)}`]);
    return { failures, outcome: refusal === undefined ? 'unopenable' : `refused ${(refusal as EcsdbError).code}` };
  }
  try {
    if (refusal !== undefined) failures.push(['repair failed', `repair refused (${(refusal as Error).message}) a directory that opens`]);
    const floor = Math.min(corruption.liveIntactLsn, corruption.provenLsn);
    if (db.lsn < floor) failures.push(['repair failed', `opened at LSN ${db.lsn} after repair; the WAL was intact through ${floor}`]);
    else if (canonical(dumpDatabase(db)) !== base.modelCanonical[db.lsn]) failures.push(['repair failed', `the world at LSN ${db.lsn} differs from the model`]);
  } finally {
    await db.close();
  }
  const cutSomething = repaired !== undefined && (repaired.cut !== undefined || repaired.trimmed.length > 0);
  return { failures, outcome: cutSomething ? 'repaired and opened' : 'opened, nothing to cut' };
}

describe.each(CORRUPTION_BASES.map((spec, index) => [spec.name, spec, index] as const))('validate and repair: %s', (name, spec, baseIndex) => {
  let base: CorruptionBase;

  beforeAll(async () => {
    base = await buildCorruptionBase(spec);
  });

  const replay = replaySeed(process.env[SEED_VARIABLE]);
  const perBase = Math.floor(CASES / CORRUPTION_BASES.length) + (baseIndex < CASES % CORRUPTION_BASES.length ? 1 : 0);
  const indices = replay === undefined ? Array.from({ length: perBase }, (_, i) => i * STRIDE) : replay.baseIndex === baseIndex ? [replay.caseIndex] : [];

  test.skipIf(indices.length === 0)(
    `${indices.length} damaged directories: validate names every damaged file, repair makes them open or refuses unchanged`,
    async () => {
      const failures = new Map<Failure, string[]>();
      const outcomes = new Map<string, number>();
      for (const caseIndex of indices) {
        const seed = caseSeed(baseIndex, caseIndex);
        const corruption = await corrupt(base, seed);
        const written = await writeOut(base, corruption.storage);
        try {
          const result = await runCase(base, corruption, written.dir);
          outcomes.set(result.outcome, (outcomes.get(result.outcome) ?? 0) + 1);
          for (const [failure, why] of result.failures) {
            failures.set(failure, [...(failures.get(failure) ?? []), `seed ${seed} (${name}, case ${caseIndex}; replay: ${SEED_VARIABLE}=${seed}): ${corruption.description}: ${why}`]);
          }
        } finally {
          await written.cleanup();
        }
      }
      const failed = (failure: Failure) => failures.get(failure)?.length ?? 0;
      reportFamily('validate+repair cases', {
        cases: indices.length,
        'missed by validate': failed('missed by validate'),
        'false alarms': failed('false alarms'),
        'repair failed': failed('repair failed'),
      });
      console.log(`validate+repair (${name}): ${indices.length} cases; ${[...outcomes].map(([what, n]) => `${what}: ${n}`).join(', ')}`);
      const messages = [...failures.values()].flat();
      expect(messages.slice(0, 20), `${messages.length} failures in ${indices.length} cases`).toEqual([]);
    },
    // A bound on the whole test, far above its run time, so that a hang fails instead of stalling CI.
    1_800_000,
  );
});
