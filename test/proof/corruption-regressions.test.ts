/**
 * Regression tests for the bugs the corruption fuzz (corruption.test.ts, validate-repair.test.ts)
 * found, one per bug, named for it. Each runs on the simulated storage, from a directory built
 * once and cloned per test.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { repairDirectory } from '../../src/cli/repair.js';
import { validateDirectory } from '../../src/cli/validate.js';
import { EcsdbError, open } from '../../src/index.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { appendToFile, flipByte, openFixture, patchFile, readBytes, readTree, recordStarts, truncateFile, type DirFixture } from '../helpers/db-dir.js';
import { buildCorruptionBase, fixtureOf, writeOut, type CorruptionBase } from '../helpers/corruption.js';
import { dumpDatabase } from '../helpers/workload.js';
import { canonical, manifestPathOf, rejectionOf, snapshotSections } from '../helpers/snapshot-dir.js';

/** Opens the clone and expects an EcsdbError naming `file` (structured) at `offset`. */
async function expectLocated(fixture: DirFixture, base: CorruptionBase, code: string, file: string, offset: number): Promise<EcsdbError> {
  const error = await rejectionOf(openFixture(fixture, base.options));
  expect(error, String(error)).toBeInstanceOf(EcsdbError);
  const typed = error as EcsdbError;
  expect(typed.code, typed.message).toBe(code);
  expect({ file: typed.file, offset: typed.offset }, typed.message).toEqual({ file, offset });
  return typed;
}

describe('snapshot sections', () => {
  let base: CorruptionBase;
  let fixture: DirFixture;
  let newest: { path: string; file: string };

  beforeAll(async () => {
    base = await buildCorruptionBase({ name: 'compressed sections', snapshotAfter: [39, 79], sectionCompress: true });
  });

  function freshClone(): void {
    fixture = fixtureOf(base, base.storage.clone());
    const snapshot = base.files.filter((f) => f.kind === 'snapshot').at(-1)!;
    newest = { path: snapshot.path, file: snapshot.file };
  }

  // Bug: the raw length of a deflate-compressed section is under no checksum, and the reader
  // allocated an output buffer of that size (up to SECTION_RAW_SIZE_BYTES_MAX, 1 GiB) before
  // inflating. A lying raw length now fails against what deflate can make of the stored bytes,
  // before anything is allocated.
  test('a lying raw length of a compressed section is refused before the reader allocates it', async () => {
    freshClone();
    const sections = snapshotSections(await readBytes(fixture.files, newest.path));
    const bytes = await readBytes(fixture.files, newest.path);
    const compressed = sections.find((s) => bytes[s.offset + 13] === 1)!;
    expect(compressed, 'the snapshot has a compressed section').toBeDefined();
    await patchFile(fixture.files, newest.path, compressed.offset + 8, new Uint8Array([0, 0, 0, 0x40])); // 1 GiB
    const db = await openFixture(fixture, base.options);
    try {
      const skipped = db.recovery!.skippedSnapshots;
      expect(skipped.map((s) => s.file)).toEqual([newest.file.slice('snapshots/'.length)]);
      expect(skipped[0].reason).toContain(`byte offset ${compressed.offset + 8}`);
      expect(skipped[0].reason).toContain('more than deflate can make');
    } finally {
      await db.close();
    }
  });

  // Bug: section header bytes a kind does not use (the reserved bytes, the component index of a
  // registry section, the slot fields of the schema section, ...) were never checked, so a
  // change there went unnoticed by open() and by `ecsdb validate`.
  test('a changed reserved byte of a section header is damage at its offset', async () => {
    freshClone();
    const sections = snapshotSections(await readBytes(fixture.files, newest.path));
    const registry = sections.find((s) => s.kind === 2)!; // generations: no component index
    await patchFile(fixture.files, newest.path, registry.offset + 14, new Uint8Array([7]));
    await patchFile(fixture.files, newest.path, registry.offset + 16, new Uint8Array([1]));
    const db = await openFixture(fixture, base.options);
    try {
      expect(db.recovery!.skippedSnapshots[0]?.reason).toContain(`byte offset ${registry.offset + 14}: reserved section header bytes are not 0`);
      expect(canonical(dumpDatabase(db))).toBe(base.modelCanonical[base.lastLsn]);
    } finally {
      await db.close();
    }
  });
});

describe('a damaged MANIFEST', () => {
  let base: CorruptionBase;

  beforeAll(async () => {
    base = await buildCorruptionBase({ name: 'incremental chain', snapshotAfter: [39, 79], fullEvery: 2, segmentCountMax: 1 });
  });

  // Bug: with the MANIFEST damaged, snapshots were found by listing with no base, so an intact
  // incremental snapshot could never be loaded: recovery fell back to an older state, or refused
  // with CORRUPT_SNAPSHOT once the WAL no longer started at LSN 1 (found by the fuzz, seed
  // 40000129). Each file's base is now read from its own (checksummed) schema section.
  test('an intact incremental chain is still loaded when the MANIFEST is damaged', async () => {
    const fixture = fixtureOf(base, base.storage.clone());
    const [older, newest] = base.files.filter((f) => f.kind === 'snapshot');
    await flipByte(fixture.files, manifestPathOf(base.dir), 30);
    const db = await openFixture(fixture, base.options);
    try {
      expect(db.recovery!.manifestProblem).toContain('MANIFEST');
      expect(db.recovery!.snapshot?.file).toBe(newest.file.slice('snapshots/'.length));
      expect(db.lsn).toBe(base.lastLsn);
      expect(canonical(dumpDatabase(db))).toBe(base.modelCanonical[base.lastLsn]);
    } finally {
      await db.close();
    }
    // And with the base damaged too, the error names the damaged base, not the intact newest.
    const both = fixtureOf(base, base.storage.clone());
    await flipByte(both.files, manifestPathOf(base.dir), 30);
    await flipByte(both.files, older.path, 200);
    const error = await expectLocated(both, base, 'CORRUPT_SNAPSHOT', older.file, 64 + 4); // the first section's checksum
    expect(error.message).toContain(newest.file.slice('snapshots/'.length));
  });
});

describe('WAL gaps', () => {
  let base: CorruptionBase;

  beforeAll(async () => {
    base = await buildCorruptionBase({ name: 'WAL only', snapshotAfter: [] });
  });

  // Bug: a segment cut short at a record boundary reads clean, and the gap it leaves was
  // reported at offset 0 of the next, intact segment (found by the fuzz, seed 10000811). The
  // error now names where the log before the gap ends: the shortened segment, at its end.
  test('a segment cut short at a record boundary is named, at its end, as the damaged file', async () => {
    const fixture = fixtureOf(base, base.storage.clone());
    const first = base.files.find((f) => f.kind === 'wal')!;
    const starts = recordStarts(first.bytes);
    const cutAt = starts[Math.floor(starts.length / 2)];
    await truncateFile(fixture.files, first.path, cutAt);
    const error = await expectLocated(fixture, base, 'CORRUPT_WAL', first.file, cutAt);
    expect(error.message).toContain(`byte offset ${cutAt}`);
    expect(error.detail).toBe('wal-gap');
  });

  test('a damaged record names its segment and offset as structured fields', async () => {
    const fixture = fixtureOf(base, base.storage.clone());
    const first = base.files.find((f) => f.kind === 'wal')!;
    const start = recordStarts(first.bytes)[2];
    await flipByte(fixture.files, join(base.dir, first.file), start + 20);
    await expectLocated(fixture, base, 'CORRUPT_WAL', first.file, start);
  });
});

describe('ecsdb validate and repair', () => {
  let pruned: CorruptionBase;
  let walOnly: CorruptionBase;

  beforeAll(async () => {
    pruned = await buildCorruptionBase({ name: 'incremental chain, pruned', snapshotAfter: [39, 79], fullEvery: 2, segmentCountMax: 1 });
    walOnly = await buildCorruptionBase({ name: 'WAL only', snapshotAfter: [] });
  });

  // Bug: with the MANIFEST damaged, validate checked no snapshot at all (it knew none), so a
  // damaged snapshot file went unreported (found by validate-repair.test.ts). It now checks the
  // snapshot files recovery would find by listing.
  test('validate reports a damaged snapshot also when the MANIFEST is damaged', async () => {
    const storage = pruned.storage.clone();
    const older = pruned.files.filter((f) => f.kind === 'snapshot')[0];
    await flipByte(storage, manifestPathOf(pruned.dir), 30);
    await flipByte(storage, older.path, 300);
    const written = await writeOut(pruned, storage);
    try {
      const validation = await validateDirectory(written.dir);
      expect(validation.problems.map((p) => p.file)).toContain('MANIFEST');
      expect(validation.problems.map((p) => p.file)).toContain(older.file);
    } finally {
      await written.cleanup();
    }
  });

  // Bug: when no snapshot loaded and the WAL no longer started at LSN 1, repair reported the WAL
  // clean, or cut it at later damage, although the directory could not open either way (found
  // by validate-repair.test.ts, seeds 40000144 and 40000240). It now refuses, changing nothing.
  test('repair refuses, changing nothing, when no snapshot loads and the WAL no longer starts at LSN 1', async () => {
    const storage = pruned.storage.clone();
    const [older] = pruned.files.filter((f) => f.kind === 'snapshot');
    const lastLive = pruned.files.filter((f) => f.kind === 'wal').at(-1)!;
    await flipByte(storage, older.path, 300); // the newest builds on it: neither loads
    await flipByte(storage, lastLive.path, recordStarts(lastLive.bytes)[1] + 20);
    const written = await writeOut(pruned, storage);
    try {
      const before = await readTree(new FileStorage(), written.dir);
      const error = await rejectionOf(repairDirectory(written.dir));
      expect(error).toBeInstanceOf(EcsdbError);
      expect((error as EcsdbError).code).toBe('CORRUPT_SNAPSHOT');
      expect((error as EcsdbError).message).toContain('no snapshot loads');
      expect(await readTree(new FileStorage(), written.dir)).toEqual(before);
    } finally {
      await written.cleanup();
    }
  });

  // Bug: garbage after the last record of a segment that is not the last made repair move every
  // later segment aside, dropping intact commits, although the next segment starts exactly at
  // the next LSN (found by validate-repair.test.ts, seed 40000768). Repair now trims only the
  // garbage (kept in repair/) and the log goes on.
  test('repair trims garbage after a middle segment and keeps the segments after it', async () => {
    const storage = walOnly.storage.clone();
    const middle = walOnly.files.filter((f) => f.kind === 'wal')[1];
    await appendToFile(storage, middle.path, new Uint8Array([1, 2, 3, 4, 5]));
    const written = await writeOut(walOnly, storage);
    try {
      const result = await repairDirectory(written.dir);
      expect(result.cut).toBeUndefined();
      expect(result.trimmed.map((t) => ({ segment: t.segment, offset: t.offset, bytesCut: t.bytesCut }))).toEqual([
        { segment: middle.file.slice('wal/'.length), offset: middle.bytes.length, bytesCut: 5 },
      ]);
      const db = await open({ dir: written.dir, components: walOnly.options.components!, ...walOnly.options });
      try {
        expect(db.lsn).toBe(walOnly.lastLsn);
        expect(canonical(dumpDatabase(db))).toBe(walOnly.modelCanonical[walOnly.lastLsn]);
      } finally {
        await db.close();
      }
    } finally {
      await written.cleanup();
    }
  });
});
