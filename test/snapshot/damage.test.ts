/**
 * Damaged snapshots and manifests. The directory holds two published snapshots, A (older) and
 * B (newest), the archive holds the WAL segments A still needs (and the ones before A were
 * pruned, so the WAL no longer starts at LSN 1), and the live WAL goes on after B.
 *
 * - B damaged anywhere (header, a section header, a payload, cut short, gone): open() recovers
 *   from A plus the WAL (archived segments included), reports B in skippedSnapshots with the
 *   reason, and the world equals the model.
 * - The MANIFEST damaged: reported in manifestProblem; snapshots are found by listing.
 * - Both damaged: CORRUPT_SNAPSHOT when the WAL no longer starts at 1 (nothing changed on disk);
 *   a replay from LSN 1 when it still does.
 * - B incremental on A: damage to B falls back to A alone; damage to A takes B with it.
 *
 * Every test runs on the simulated storage and on the real file system; each directory is built
 * once per storage and copied for every test.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { Database, OpenOptions } from '../../src/index.js';
import { decodeManifest } from '../../src/snapshot/manifest.js';
import {
  BOTH_STORAGES,
  appendToFile,
  flipByte,
  openFixture,
  patchFile,
  readBytes,
  readTree,
  truncateFile,
  writeWholeFile,
  type DirFixture,
} from '../helpers/db-dir.js';
import { dumpDatabase } from '../helpers/workload.js';
import {
  SECTION_HEADER_BYTES,
  archiveDirOf,
  buildTemplate,
  expectTyped,
  manifestPathOf,
  rejectionOf,
  segmentFirstLsns,
  snapshotSections,
  snapshotsDirOf,
  twoSnapshotOptions,
  walDirOf,
  writeTwoSnapshots,
  type FixtureTemplate,
  type SectionLayout,
  type TwoSnapshots,
} from '../helpers/snapshot-dir.js';

async function openChecked(fixture: DirFixture, two: TwoSnapshots, options: Partial<OpenOptions>): Promise<Database> {
  const db = await openFixture(fixture, options);
  expect(db.lsn).toBe(two.lastLsn);
  expect(dumpDatabase(db)).toEqual(two.finalDump);
  return db;
}

describe.each(BOTH_STORAGES)('a damaged newest snapshot on $name', (kind) => {
  let template: FixtureTemplate;
  let fixture: DirFixture;
  let two: TwoSnapshots;
  let newestPath: string;
  let sections: SectionLayout[];
  const options = twoSnapshotOptions({ segmentCountMax: 2 });

  beforeAll(async () => {
    template = await buildTemplate(kind, async (built) => {
      two = await writeTwoSnapshots(built, { segmentCountMax: 2 });
    });
  });

  afterAll(async () => {
    await template.cleanup();
  });

  beforeEach(async () => {
    fixture = await template.copy();
    newestPath = join(snapshotsDirOf(fixture.dir), two.newest.file);
    sections = snapshotSections(await readBytes(fixture.files, newestPath));
    // The fallback must need the archive: the segment holding A's first replayed record was
    // archived when B was published, and pruning kept it although segmentCountMax is 2.
    const archived = await segmentFirstLsns(fixture.files, archiveDirOf(fixture.dir));
    const live = await segmentFirstLsns(fixture.files, walDirOf(fixture.dir));
    expect(archived.filter((lsn) => lsn <= two.older.startLsn + 1).length, 'A replays from the archive').toBeGreaterThan(0);
    expect(live[0], 'A cannot replay from the live WAL alone').toBeGreaterThan(two.older.startLsn + 1);
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  /** Opens, expects recovery from A with B skipped for `reason`, and the model's world. */
  async function expectFallback(...reasonParts: string[]): Promise<void> {
    const db = await openChecked(fixture, two, options);
    try {
      const recovery = db.recovery!;
      expect(recovery.snapshot?.file).toBe(two.older.file);
      expect(recovery.skippedSnapshots.map((s) => s.file)).toEqual([two.newest.file]);
      for (const part of reasonParts) expect(recovery.skippedSnapshots[0].reason).toContain(part);
      expect(recovery.wal.recordsReplayed).toBe(two.lastLsn - two.older.startLsn);
      expect(recovery.manifestProblem).toBeUndefined();
    } finally {
      await db.close();
    }
  }

  function sectionOf(kind: number, chunk: number): SectionLayout {
    const matching = sections.filter((s) => s.kind === kind);
    expect(matching.length).toBeGreaterThan(chunk);
    return matching[chunk];
  }

  test('the undamaged directory recovers from the newest snapshot', async () => {
    const db = await openChecked(fixture, two, options);
    expect(db.recovery!.snapshot?.file).toBe(two.newest.file);
    expect(db.recovery!.skippedSnapshots).toEqual([]);
    await db.close();
  });

  test('a flipped header byte (start LSN) falls back to the older snapshot, naming offset 0', async () => {
    await flipByte(fixture.files, newestPath, 30);
    await expectFallback(two.newest.file, 'byte offset 0', 'header checksum');
  });

  test('a flipped header byte (section count) falls back to the older snapshot', async () => {
    await flipByte(fixture.files, newestPath, 52);
    await expectFallback(two.newest.file, 'byte offset 0');
  });

  test('a flipped checksum in a section header falls back, naming that field', async () => {
    const section = sectionOf(2, 1); // generations of the second chunk
    await flipByte(fixture.files, newestPath, section.offset + 4);
    await expectFallback(two.newest.file, `byte offset ${section.offset + 4}`, 'checksum mismatch');
  });

  test('a damaged stored length in a section header falls back, naming the section', async () => {
    const section = sectionOf(5, 0); // the first numeric column section
    await flipByte(fixture.files, newestPath, section.offset + 1);
    await expectFallback(two.newest.file, 'byte offset');
  });

  test('a damaged slot count in a section header falls back', async () => {
    const section = sectionOf(3, 1); // alive flags of the second chunk
    await flipByte(fixture.files, newestPath, section.offset + 28);
    await expectFallback(two.newest.file, 'byte offset');
  });

  test('a damaged section kind falls back', async () => {
    const section = sectionOf(5, 1);
    await patchFile(fixture.files, newestPath, section.offset + 12, new Uint8Array([6])); // column → strings
    await expectFallback(two.newest.file, `byte offset ${section.offset + 12}`);
  });

  // Bug: a section header is not covered by any checksum (the CRC covers only the stored bytes),
  // and snapshot-reader.ts ImageLoader.cover() counts how many slots each array received, not
  // which ones. A section whose first slot is rewritten to another in-range value (here chunk 2's
  // Position.x moved onto chunk 1's slots) passes every check: chunk 1's values are overwritten,
  // chunk 2's slots keep zeros, and recovery silently loads wrong data from the newest snapshot.
  test('a section moved onto the slots of another chunk (its checksum still valid) falls back', async () => {
    const section = sections.find((s) => s.kind === 5 && s.componentIndex === 0 && s.fieldIndex === 0 && s.firstSlot > 0)!;
    expect(section, 'Position.x of the second chunk').toBeDefined();
    const firstSlot = new Uint8Array(4); // little-endian 0
    await patchFile(fixture.files, newestPath, section.offset + 24, firstSlot);
    await expectFallback(two.newest.file, 'byte offset');
  });

  test('a flipped byte in the schema payload falls back, naming its section', async () => {
    await flipByte(fixture.files, newestPath, sections[0].offset + SECTION_HEADER_BYTES + 3);
    await expectFallback(two.newest.file, `byte offset ${sections[0].offset + 4}`, 'checksum mismatch');
  });

  test('a flipped byte in a column payload of the second chunk falls back, naming its section', async () => {
    const section = sectionOf(5, 1);
    await flipByte(fixture.files, newestPath, section.offset + SECTION_HEADER_BYTES + Math.floor(section.storedSizeBytes / 2));
    await expectFallback(two.newest.file, `byte offset ${section.offset + 4}`, 'checksum mismatch');
  });

  test('a flipped byte in a strings payload falls back', async () => {
    const section = sectionOf(6, 0);
    await flipByte(fixture.files, newestPath, section.offset + SECTION_HEADER_BYTES + 1);
    await expectFallback(two.newest.file, `byte offset ${section.offset + 4}`);
  });

  test('a damaged end marker falls back', async () => {
    const end = sections.at(-1)!;
    expect(end.kind).toBe(255);
    await patchFile(fixture.files, newestPath, end.offset + 12, new Uint8Array([5]));
    await expectFallback(two.newest.file, 'byte offset');
  });

  test.each([
    ['by one byte', (size: number) => size - 1],
    ['to the middle', (size: number) => Math.floor(size / 2)],
    ['to its header', () => 64],
    ['to less than its header', () => 20],
    ['to nothing', () => 0],
  ])('a snapshot cut short %s falls back', async (_what, cut) => {
    const size = (await fixture.files.stat(newestPath))!.sizeBytes;
    await truncateFile(fixture.files, newestPath, cut(size));
    await expectFallback(two.newest.file, 'byte offset');
  });

  test('bytes appended after the end marker fall back', async () => {
    await appendToFile(fixture.files, newestPath, new Uint8Array([1, 2, 3]));
    await expectFallback(two.newest.file, 'after the end marker');
  });

  test('a deleted newest snapshot falls back, saying the file is missing', async () => {
    await fixture.files.unlink(newestPath);
    await expectFallback(two.newest.file, 'ENOENT');
  });

  test('a newest snapshot replaced by the older one (wrong LSNs for its name) still recovers the model', async () => {
    await writeWholeFile(fixture.files, newestPath, await readBytes(fixture.files, join(snapshotsDirOf(fixture.dir), two.older.file)));
    const db = await openChecked(fixture, two, options);
    await db.close();
  });

  test('a damaged older snapshot is never read when the newest is fine', async () => {
    await flipByte(fixture.files, join(snapshotsDirOf(fixture.dir), two.older.file), 100);
    const db = await openChecked(fixture, two, options);
    expect(db.recovery!.snapshot?.file).toBe(two.newest.file);
    expect(db.recovery!.skippedSnapshots).toEqual([]);
    await db.close();
  });

  test('a flipped MANIFEST byte is reported, and snapshots are found by listing', async () => {
    await flipByte(fixture.files, manifestPathOf(fixture.dir), 30);
    const db = await openChecked(fixture, two, options);
    expect(db.recovery!.manifestProblem).toContain('MANIFEST');
    expect(db.recovery!.manifestProblem).toContain('byte offset 14');
    expect(db.recovery!.snapshot?.file).toBe(two.newest.file);
    await db.close();
  });

  test('a truncated MANIFEST is reported, and recovery still uses the newest snapshot', async () => {
    await truncateFile(fixture.files, manifestPathOf(fixture.dir), 5);
    const db = await openChecked(fixture, two, options);
    expect(db.recovery!.manifestProblem).toContain('byte offset 5');
    expect(db.recovery!.snapshot?.file).toBe(two.newest.file);
    await db.close();
  });

  test('a damaged MANIFEST and a damaged newest snapshot fall back to the older one by listing', async () => {
    await flipByte(fixture.files, manifestPathOf(fixture.dir), 0);
    await flipByte(fixture.files, newestPath, sections[1].offset + SECTION_HEADER_BYTES);
    const db = await openChecked(fixture, two, options);
    expect(db.recovery!.manifestProblem).toContain('byte offset 0');
    expect(db.recovery!.snapshot?.file).toBe(two.older.file);
    expect(db.recovery!.skippedSnapshots.map((s) => s.file)).toEqual([two.newest.file]);
    await db.close();
  });

  test('after a damaged MANIFEST, the next snapshot writes a valid one again', async () => {
    await flipByte(fixture.files, manifestPathOf(fixture.dir), 30);
    const db = await openChecked(fixture, two, options);
    const entry = await db.snapshot();
    await db.close();
    const manifest = decodeManifest(await readBytes(fixture.files, manifestPathOf(fixture.dir)), 'MANIFEST');
    expect(manifest.snapshots.at(-1)?.file).toBe(entry.file);
    const reopened = await openChecked(fixture, two, options);
    expect(reopened.recovery!.manifestProblem).toBeUndefined();
    expect(reopened.recovery!.snapshot?.file).toBe(entry.file);
    await reopened.close();
  });

  // Bug: recoverDatabase (src/recovery/recover.ts) hands the Snapshotter the manifest's entries
  // including those it skipped as damaged, and Snapshotter#run keeps the newest K by end LSN. So
  // the next snapshot keeps the damaged newest file in the manifest and deletes the older, good
  // snapshot recovery actually used: with keep 2, one usable snapshot is left, and db.snapshots
  // lists a file known to be damaged.
  test('the next snapshot after a fallback keeps the good older snapshot, not the damaged one', async () => {
    await flipByte(fixture.files, newestPath, 30);
    const db = await openChecked(fixture, two, options);
    try {
      expect(db.recovery!.snapshot?.file).toBe(two.older.file);
      db.transact((tx) => void tx.create());
      const entry = await db.snapshot();
      expect(db.snapshots.map((e) => e.file)).toEqual([two.older.file, entry.file]);
      expect((await fixture.files.stat(join(snapshotsDirOf(fixture.dir), two.older.file))) !== undefined, 'the good snapshot is kept').toBe(true);
    } finally {
      await db.close();
    }
  });

  test('both snapshots damaged and the WAL pruned past LSN 1: CORRUPT_SNAPSHOT, nothing changed on disk', async () => {
    expect((await segmentFirstLsns(fixture.files, archiveDirOf(fixture.dir)))[0], 'the oldest segments were pruned').toBeGreaterThan(1);
    await flipByte(fixture.files, newestPath, 30);
    await truncateFile(fixture.files, join(snapshotsDirOf(fixture.dir), two.older.file), 100);
    const before = await readTree(fixture.files, fixture.dir);
    const error = await rejectionOf(openFixture(fixture, options));
    expectTyped(error, 'CORRUPT_SNAPSHOT', two.newest.file, two.older.file, 'LSN 1');
    const after = await readTree(fixture.files, fixture.dir);
    expect(after.has('LOCK'), 'a failed open releases its lock').toBe(false);
    expect(after).toEqual(before);
  });

  test('a missing MANIFEST with a pruned WAL either recovers by listing or fails typed, changing nothing', async () => {
    await fixture.files.unlink(manifestPathOf(fixture.dir));
    const before = await readTree(fixture.files, fixture.dir);
    const outcome = await openFixture(fixture, options).then(
      (db) => db,
      (error: unknown) => error,
    );
    if (outcome instanceof Error) {
      expect(outcome.constructor.name).toBe('EcsdbError');
      expect(await readTree(fixture.files, fixture.dir)).toEqual(before);
    } else {
      const db = outcome as Database;
      expect(db.lsn).toBe(two.lastLsn);
      expect(dumpDatabase(db)).toEqual(two.finalDump);
      await db.close();
    }
  });
});

describe.each(BOTH_STORAGES)('a damaged snapshot chain (incremental newest on a full older) on $name', (kind) => {
  let template: FixtureTemplate;
  let fixture: DirFixture;
  let two: TwoSnapshots;
  const options = twoSnapshotOptions({ segmentCountMax: 2, fullEvery: 2 });

  beforeAll(async () => {
    template = await buildTemplate(kind, async (built) => {
      two = await writeTwoSnapshots(built, { segmentCountMax: 2, fullEvery: 2 });
    });
  });

  afterAll(async () => {
    await template.cleanup();
  });

  beforeEach(async () => {
    fixture = await template.copy();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  const pathOf = (file: string) => join(snapshotsDirOf(fixture.dir), file);

  test('the undamaged chain recovers through both files', async () => {
    const db = await openChecked(fixture, two, options);
    expect(db.recovery!.snapshot?.file).toBe(two.newest.file);
    expect(db.recovery!.wal.recordsReplayed).toBe(two.lastLsn - two.newest.startLsn);
    await db.close();
  });

  test('a damaged incremental snapshot falls back to its base alone', async () => {
    const sections = snapshotSections(await readBytes(fixture.files, pathOf(two.newest.file)));
    await flipByte(fixture.files, pathOf(two.newest.file), sections[1].offset + SECTION_HEADER_BYTES);
    const db = await openChecked(fixture, two, options);
    expect(db.recovery!.snapshot?.file).toBe(two.older.file);
    expect(db.recovery!.skippedSnapshots.map((s) => s.file)).toEqual([two.newest.file]);
    await db.close();
  });

  test('a damaged base takes the incremental with it: CORRUPT_SNAPSHOT naming the base, nothing changed', async () => {
    await flipByte(fixture.files, pathOf(two.older.file), 100);
    const before = await readTree(fixture.files, fixture.dir);
    const error = expectTyped(await rejectionOf(openFixture(fixture, options)), 'CORRUPT_SNAPSHOT', two.older.file);
    expect(error.message).toContain(two.newest.file);
    expect(await readTree(fixture.files, fixture.dir)).toEqual(before);
  });

  test('a deleted base takes the incremental with it: CORRUPT_SNAPSHOT, nothing changed', async () => {
    await fixture.files.unlink(pathOf(two.older.file));
    const before = await readTree(fixture.files, fixture.dir);
    expectTyped(await rejectionOf(openFixture(fixture, options)), 'CORRUPT_SNAPSHOT', two.newest.file);
    expect(await readTree(fixture.files, fixture.dir)).toEqual(before);
  });

  test('a full snapshot put in place of the incremental one is refused as a chain member, then the base is used', async () => {
    // The older (full) file under the newest name: its header says full, but the manifest says it builds on A.
    await writeWholeFile(fixture.files, pathOf(two.newest.file), await readBytes(fixture.files, pathOf(two.older.file)));
    const db = await openChecked(fixture, two, options);
    expect(db.recovery!.snapshot?.file).toBe(two.older.file);
    expect(db.recovery!.skippedSnapshots[0].reason).toContain('byte offset 10');
    await db.close();
  });
});

describe.each(BOTH_STORAGES)('both snapshots damaged, WAL complete from LSN 1, on $name', (kind) => {
  let fixture: DirFixture;

  beforeEach(async () => {
    fixture = await kind.create();
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  test('open() replays the whole WAL from LSN 1 and reports both snapshots as skipped', async () => {
    const two = await writeTwoSnapshots(fixture, { segmentCountMax: 0 });
    expect((await segmentFirstLsns(fixture.files, archiveDirOf(fixture.dir)))[0], 'nothing was pruned').toBe(1);
    await flipByte(fixture.files, join(snapshotsDirOf(fixture.dir), two.newest.file), 70);
    await fixture.files.unlink(join(snapshotsDirOf(fixture.dir), two.older.file));
    const db = await openChecked(fixture, two, twoSnapshotOptions({ segmentCountMax: 0 }));
    expect(db.recovery!.snapshot).toBeUndefined();
    expect(db.recovery!.skippedSnapshots.map((s) => s.file)).toEqual([two.newest.file, two.older.file]);
    expect(db.recovery!.wal.recordsReplayed).toBe(two.lastLsn);
    await db.close();
  });
});
