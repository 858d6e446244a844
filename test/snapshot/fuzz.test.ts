/**
 * Random corruption of snapshot files (and now and then the MANIFEST) with the mutations of
 * test/helpers/corruption.ts (bit flips, random bytes, random bytes inside section headers,
 * which no checksum covers, zeroed and random runs, truncations, appended garbage, lying length
 * fields), to the newest snapshot, the older one, or both. The WAL is intact and every
 * commit was acknowledged, so every case must either open to exactly the last commit's world
 * (from whichever snapshot survives) or fail with a typed EcsdbError that names a file — never
 * another exception type, never different data.
 *
 * Runs on the simulated storage: the directory is built once and cloned for each case.
 * Three directories: full snapshots with plain sections, with deflate-compressed sections, and
 * an incremental newest snapshot chained to the older one.
 * Size: ECSDB_FUZZ_SNAPSHOT_CASES cases per directory (default 100).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { EcsdbError } from '../../src/index.js';
import { createRandom, randomInt } from '../../src/storage/random.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { SIMULATED, openFixture, readBytes, type DirFixture } from '../helpers/db-dir.js';
import { MUTATIONS } from '../helpers/corruption.js';
import { dumpDatabase } from '../helpers/workload.js';
import {
  manifestPathOf,
  snapshotsDirOf,
  twoSnapshotOptions,
  writeTwoSnapshots,
  type TwoSnapshotSettings,
  type TwoSnapshots,
} from '../helpers/snapshot-dir.js';
import { reportFamily } from '../helpers/proof-summary.js';

const CASES = Number(process.env.ECSDB_FUZZ_SNAPSHOT_CASES ?? 100);

describe.each<[string, TwoSnapshotSettings]>([
  ['full snapshots, plain sections', { segmentCountMax: 2 }],
  ['full snapshots, compressed sections', { segmentCountMax: 2, compress: true }],
  ['an incremental snapshot on a full one', { segmentCountMax: 2, fullEvery: 2 }],
])('random corruption: %s', (name, settings) => {
  let base: DirFixture;
  let two: TwoSnapshots;

  const originals = new Map<string, Uint8Array>();

  beforeAll(async () => {
    base = await SIMULATED.create();
    two = await writeTwoSnapshots(base, settings);
    for (const file of [two.newest.file, two.older.file]) {
      const path = join(snapshotsDirOf(base.dir), file);
      originals.set(path, await readBytes(base.files, path));
    }
  });

  test(`${CASES} damaged directories each open to the last commit or fail typed`, async () => {
    const outcomes = new Map<string, number>();
    const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    for (let index = 0; index < CASES; index++) {
      const random = createRandom(9_000 + index + 100_000 * name.length);
      const storage = (base.storage as SimulatedStorage).clone();
      const fixture: DirFixture = { dir: base.dir, storage, files: storage, cleanup: async () => {} };
      const snapshots = snapshotsDirOf(base.dir);
      const roll = random();
      const targets =
        roll < 0.6
          ? [join(snapshots, two.newest.file)]
          : roll < 0.75
            ? [join(snapshots, two.older.file)]
            : roll < 0.9
              ? [join(snapshots, two.newest.file), join(snapshots, two.older.file)]
              : [manifestPathOf(base.dir), join(snapshots, two.newest.file)];
      const damage: string[] = [];
      for (const path of targets) {
        const mutation = MUTATIONS[randomInt(random, MUTATIONS.length)];
        damage.push(`${path.slice(base.dir.length + 1)}: ${await mutation(storage, path, random)}`);
      }
      const label = `case ${index} (${damage.join('; ')})`;
      let opened;
      try {
        opened = await openFixture(fixture, twoSnapshotOptions(settings));
      } catch (error) {
        expect(error, `${label}: threw a foreign exception: ${String(error)}`).toBeInstanceOf(EcsdbError);
        expect((error as EcsdbError).message, `${label}: the error names no file`).toMatch(/\.snap|MANIFEST|\.wal/);
        expect((error as EcsdbError).file, `${label}: no structured file`).toMatch(/^snapshots\/.*\.snap$|^MANIFEST$|\.wal/);
        expect((error as EcsdbError).offset, `${label}: no structured offset`).toBeTypeOf('number');
        count(`failed ${(error as EcsdbError).code}`);
        continue;
      }
      try {
        expect(opened.lsn, `${label}: recovered to another LSN`).toBe(two.lastLsn);
        const dump = dumpDatabase(opened);
        expect(dump, `${label}: recovered different data`).toEqual(two.finalDump);
        const recovery = opened.recovery!;
        count(recovery.snapshot === undefined ? 'opened by replay from LSN 1' : recovery.snapshot.file === two.newest.file ? 'opened from the newest' : 'opened from the older');
      } finally {
        await opened.close();
      }
    }
    const summary = [...outcomes].map(([what, n]) => `${what}: ${n}`).join(', ');
    reportFamily('corruption cases', { cases: CASES, 'foreign exceptions': 0, 'wrong data': 0 });
    console.log(`snapshot fuzz (${name}): ${CASES} cases; ${summary}; foreign exceptions: 0, other wrong data: 0`);
    expect(outcomes.size, 'the fuzz reaches more than one outcome').toBeGreaterThan(1);
  });
});
