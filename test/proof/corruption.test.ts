/**
 * Corruption fuzz of whole database directories: WAL segments (live, archived plain and
 * deflate-compressed), snapshots (full, with compressed sections, and incremental chains), the
 * MANIFEST and ecsdb.meta get bit flips, random bytes, zeroed and random runs, truncation,
 * appended garbage and lying length fields (test/helpers/corruption.ts). Every case must either
 * open to exactly the model's world at the recovered LSN, losing no record whose bytes survive,
 * or fail with an EcsdbError whose `file` and `offset` name a damaged file. Never another
 * exception type, a hang, or different data.
 *
 * Four base directories are built once on the simulated storage and cloned for each case.
 * Size: ECSDB_FUZZ_CORRUPTION_CASES cases in all (default 9,700, shared by the bases; with the
 * 300 of test/snapshot/fuzz.test.ts the family has 10,000). A failure prints its seed;
 * ECSDB_FUZZ_CORRUPTION_SEED=<seed> runs that one case again.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/index.js';
import { openFixture } from '../helpers/db-dir.js';
import {
  CORRUPTION_BASES,
  HangError,
  bounded,
  buildCorruptionBase,
  caseSeed,
  casesPerBase,
  corrupt,
  fixtureOf,
  judgeOpen,
  replaySeed,
  type CorruptionBase,
  type Verdict,
} from '../helpers/corruption.js';
import { reportFamily } from '../helpers/proof-summary.js';

const SEED_VARIABLE = 'ECSDB_FUZZ_CORRUPTION_SEED';

describe.each(CORRUPTION_BASES.map((spec, index) => [spec.name, spec, index] as const))('corruption fuzz: %s', (name, spec, baseIndex) => {
  let base: CorruptionBase;

  beforeAll(async () => {
    base = await buildCorruptionBase(spec);
  });

  const replay = replaySeed(process.env[SEED_VARIABLE]);
  const indices = replay === undefined ? [...Array(casesPerBase(baseIndex)).keys()] : replay.baseIndex === baseIndex ? [replay.caseIndex] : [];

  test.skipIf(indices.length === 0)(
    `${indices.length} damaged directories each open to a proven prefix or fail naming file and offset`,
    async () => {
      const failures = new Map<Verdict, string[]>();
      const outcomes = new Map<string, number>();
      for (const caseIndex of indices) {
        const seed = caseSeed(baseIndex, caseIndex);
        const corruption = await corrupt(base, seed);
        let opened: Database | undefined;
        let outcome: { db: Database } | { error: unknown };
        try {
          opened = await bounded(openFixture(fixtureOf(base, corruption.storage), base.options), 'open()');
          outcome = { db: opened };
        } catch (error) {
          outcome = { error };
        }
        const judged = outcome === undefined ? undefined : 'error' in outcome && outcome.error instanceof HangError ? { verdict: 'hang' as const, outcome: 'hang', why: String(outcome.error) } : judgeOpen(base, corruption, outcome);
        await opened?.close();
        outcomes.set(judged!.outcome, (outcomes.get(judged!.outcome) ?? 0) + 1);
        if (judged!.verdict !== 'ok') {
          const list = failures.get(judged!.verdict) ?? [];
          list.push(`seed ${seed} (${name}, case ${caseIndex}; replay: ${SEED_VARIABLE}=${seed}): ${corruption.description}: ${judged!.why}`);
          failures.set(judged!.verdict, list);
        }
      }
      const failed = (verdict: Verdict) => failures.get(verdict)?.length ?? 0;
      reportFamily('corruption cases', {
        cases: indices.length,
        'foreign exceptions': failed('foreign exception'),
        'wrong data': failed('wrong data'),
        'data lost': failed('data lost'),
        'unlocated errors': failed('unlocated error'),
        hangs: failed('hang'),
      });
      console.log(`corruption fuzz (${name}): ${indices.length} cases; ${[...outcomes].map(([what, n]) => `${what}: ${n}`).join(', ')}`);
      const messages = [...failures.values()].flat();
      expect(messages.slice(0, 20), `${messages.length} of ${indices.length} cases failed`).toEqual([]);
      if (replay === undefined) expect(outcomes.size, 'the fuzz reaches both opening and refusing').toBeGreaterThan(1);
    },
    // A bound on the whole test, far above its run time, so that a hang fails instead of stalling CI.
    1_800_000,
  );
});
