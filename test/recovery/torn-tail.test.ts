/**
 * Torn tail: the last segment ends in an incomplete or garbled record (the write in flight when
 * the process or machine died). Recovery cuts it, reports it in db.recovery.wal.tornTail, and
 * the cut is on disk afterwards. Corruption, the other event, is in corruption.test.ts.
 *
 * Every test runs on the simulated storage and on the real file system (a fresh os.tmpdir()
 * directory per test, through open()'s default storage).
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { readMeta } from '../../src/meta/meta-file.js';
import { createRandom, randomInt } from '../../src/storage/random.js';
import { SEGMENT_HEADER_SIZE_BYTES, encodeSegmentHeader, segmentFileName } from '../../src/wal/format.js';
import {
  BOTH_STORAGES,
  appendToFile,
  openAndCheck,
  openFixture,
  populate,
  readBytes,
  recordStarts,
  segmentNames,
  segmentPath,
  truncateFile,
  writeWholeFile,
  type DirFixture,
} from '../helpers/db-dir.js';

const SEED = 21;
const COMMITS = 80;
/** A flush every few commits makes one batch each, so the 4 KiB segments rotate. */
const FLUSH_EVERY = 5;

describe.each(BOTH_STORAGES)('torn tail on $name', (kind) => {
  let fixture: DirFixture;
  let model: unknown[][];
  /** LSN of the last record on disk before the damage. */
  let lastLsn: number;
  let lastSegment: string;
  let lastSegmentBytes: Uint8Array;

  beforeEach(async () => {
    fixture = await kind.create();
    model = await populate(fixture, SEED, COMMITS, FLUSH_EVERY);
    lastLsn = model.length - 1;
    const names = await segmentNames(fixture);
    expect(names.length, 'the workload must fill several segments').toBeGreaterThanOrEqual(2);
    lastSegment = names[names.length - 1];
    lastSegmentBytes = await readBytes(fixture.files, segmentPath(fixture, lastSegment));
  });

  afterEach(async () => {
    await fixture.cleanup();
  });

  const lastRecordStart = (): number => recordStarts(lastSegmentBytes).at(-1)!;

  test('a truncated last record is cut and reported with segment, offset and bytes cut', async () => {
    const start = lastRecordStart();
    const cutTo = lastSegmentBytes.length - 3;
    await truncateFile(fixture.files, segmentPath(fixture, lastSegment), cutTo);
    const db = await openAndCheck(fixture, model, lastLsn - 1);
    expect(db.recovery!.wal.tornTail).toEqual({
      segment: lastSegment,
      offset: start,
      bytesCut: cutTo - start,
      reason: expect.stringContaining(`record ${lastLsn}`),
    });
    expect(db.recovery!.wal.lastLsn).toBe(lastLsn - 1);
    await db.close();
  });

  test('after a cut the bytes are gone from disk and the directory reopens cleanly', async () => {
    const start = lastRecordStart();
    await truncateFile(fixture.files, segmentPath(fixture, lastSegment), lastSegmentBytes.length - 3);
    await (await openFixture(fixture)).close();
    expect(await readBytes(fixture.files, segmentPath(fixture, lastSegment))).toEqual(lastSegmentBytes.subarray(0, start));
    const db = await openAndCheck(fixture, model, lastLsn - 1);
    expect(db.recovery!.wal.tornTail).toBeUndefined();
    expect(db.recovery!.wal.recordsReplayed).toBe(lastLsn - 1);
    await db.close();
  });

  test('a record header cut short is a torn tail too', async () => {
    const start = lastRecordStart();
    await truncateFile(fixture.files, segmentPath(fixture, lastSegment), start + 5);
    const db = await openAndCheck(fixture, model, lastLsn - 1);
    expect(db.recovery!.wal.tornTail).toMatchObject({ segment: lastSegment, offset: start, bytesCut: 5 });
    await db.close();
  });

  test('new commits after a cut continue the log from the last valid record', async () => {
    await truncateFile(fixture.files, segmentPath(fixture, lastSegment), lastSegmentBytes.length - 3);
    const db = await openFixture(fixture);
    const commit = db.transact((tx) => tx.create(), { durability: 'strict' });
    expect(commit.lsn).toBe(lastLsn);
    await commit.durable;
    await db.close();
    const reopened = await openFixture(fixture);
    expect(reopened.lsn).toBe(lastLsn);
    expect(reopened.recovery!.wal.tornTail).toBeUndefined();
    expect(reopened.exists(commit.value)).toBe(true);
    await reopened.close();
  });

  test('a garbage tail after the last record is cut the same way', async () => {
    const random = createRandom(5);
    const garbage = Uint8Array.from({ length: 100 }, () => randomInt(random, 256));
    await appendToFile(fixture.files, segmentPath(fixture, lastSegment), garbage);
    const db = await openAndCheck(fixture, model, lastLsn);
    expect(db.recovery!.wal.tornTail).toMatchObject({ segment: lastSegment, offset: lastSegmentBytes.length, bytesCut: 100 });
    await db.close();
    expect(await readBytes(fixture.files, segmentPath(fixture, lastSegment))).toEqual(lastSegmentBytes);
  });

  test('a zero-filled tail after the last record is preallocated space: not torn, nothing cut, and the log goes on in it', async () => {
    await appendToFile(fixture.files, segmentPath(fixture, lastSegment), new Uint8Array(4096));
    const db = await openAndCheck(fixture, model, lastLsn);
    expect(db.recovery!.wal.tornTail).toBeUndefined();
    await db.transact((tx) => tx.create(), { durability: 'strict' }).durable;
    await db.close();
    // The commit was written where the zeros began; close trimmed the rest.
    const after = await readBytes(fixture.files, segmentPath(fixture, lastSegment));
    expect(after.subarray(0, lastSegmentBytes.length)).toEqual(lastSegmentBytes);
    expect(recordStarts(after).at(-1)).toBeGreaterThanOrEqual(lastSegmentBytes.length);
    expect(after.length).toBeLessThan(lastSegmentBytes.length + 4096);
  });

  test('a zero-filled gap followed by garbage is still a torn tail', async () => {
    await appendToFile(fixture.files, segmentPath(fixture, lastSegment), new Uint8Array([...new Uint8Array(100), 7, 7, 7]));
    const db = await openAndCheck(fixture, model, lastLsn);
    expect(db.recovery!.wal.tornTail).toMatchObject({ segment: lastSegment, offset: lastSegmentBytes.length, bytesCut: 103 });
    await db.close();
    expect(await readBytes(fixture.files, segmentPath(fixture, lastSegment))).toEqual(lastSegmentBytes);
  });

  test('a last segment holding only part of its header is removed, and the log continues', async () => {
    const name = segmentFileName(lastLsn + 1);
    const meta = (await readMeta(fixture.files, fixture.dir))!;
    await writeWholeFile(fixture.files, segmentPath(fixture, name), encodeSegmentHeader(meta.databaseId, lastLsn + 1).subarray(0, 20));
    const db = await openAndCheck(fixture, model, lastLsn);
    expect(db.recovery!.wal.tornTail).toMatchObject({ segment: name, offset: 0, bytesCut: 20 });
    expect(await segmentNames(fixture)).not.toContain(name);
    await db.transact((tx) => tx.create(), { durability: 'strict' }).durable;
    await db.close();
    const reopened = await openFixture(fixture);
    expect(reopened.lsn).toBe(lastLsn + 1);
    await reopened.close();
  });

  // A crash (SIGKILL, or power loss on a file system that persisted the new directory entry but
  // not the data) between creating a segment and writing its header leaves an empty file.
  test('an empty last segment (created, header never written) is removed, and the log continues', async () => {
    const name = segmentFileName(lastLsn + 1);
    await writeWholeFile(fixture.files, segmentPath(fixture, name), new Uint8Array(0));
    const db = await openAndCheck(fixture, model, lastLsn);
    try {
      await db.transact((tx) => tx.create(), { durability: 'strict' }).durable;
    } finally {
      await db.close().catch(() => undefined);
    }
    const reopened = await openFixture(fixture);
    expect(reopened.lsn).toBe(lastLsn + 1);
    await reopened.close();
  });

  test('only the header of the last segment is kept when its first record is torn', async () => {
    const start = recordStarts(lastSegmentBytes)[0];
    expect(start).toBe(SEGMENT_HEADER_SIZE_BYTES);
    await truncateFile(fixture.files, segmentPath(fixture, lastSegment), start + 10);
    const firstLsnOfSegment = Number(lastSegment.slice(0, 20));
    const db = await openAndCheck(fixture, model, firstLsnOfSegment - 1);
    expect(db.recovery!.wal.tornTail).toMatchObject({ segment: lastSegment, offset: SEGMENT_HEADER_SIZE_BYTES, bytesCut: 10 });
    await db.close();
    expect((await readBytes(fixture.files, segmentPath(fixture, lastSegment))).length).toBe(SEGMENT_HEADER_SIZE_BYTES);
  });
});
