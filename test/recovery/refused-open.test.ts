/**
 * Directories open() must refuse with a typed error and leave exactly as they were: every file's
 * bytes unchanged and no LOCK file left behind. (Corrupt records are in corruption.test.ts.)
 *
 * Every test runs on the simulated storage and on the real file system.
 */
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EcsdbError, defineComponent, t, type ErrorCode } from '../../src/index.js';
import { META_FILE_NAME, META_FORMAT_VERSION_EVOLVED, encodeMeta, readMeta } from '../../src/meta/meta-file.js';
import { WAL_FORMAT_VERSION } from '../../src/wal/format.js';
import {
  BOTH_STORAGES,
  openFixture,
  patchFile,
  populate,
  readBytes,
  readTree,
  segmentNames,
  segmentPath,
  writeWholeFile,
  type DirFixture,
} from '../helpers/db-dir.js';
import { Health } from '../helpers/fixtures.js';
import { WORKLOAD_COMPONENTS } from '../helpers/workload.js';

const SEED = 23;
/** The workload's components with Health.hp narrowed from i32 to i16: no safe conversion. */
const NARROWED = WORKLOAD_COMPONENTS.map((def) => (def === Health ? defineComponent('Health', { hp: t.i16 }) : def));
const COMMITS = 150;
const FLUSH_EVERY = 5;

describe.each(BOTH_STORAGES)('open() refuses, changing nothing, on $name', (kind) => {
  let fixture: DirFixture;
  let names: string[];
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    fixture = await kind.create();
    cleanups.push(() => fixture.cleanup());
    await populate(fixture, SEED, COMMITS, FLUSH_EVERY);
    names = await segmentNames(fixture);
    expect(names.length, 'the workload must fill several segments').toBeGreaterThanOrEqual(3);
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** Opens with `components`, expects `code` with every `parts` in the message, and no change. */
  async function expectRefusedUnchanged(code: ErrorCode, parts: string[], components = WORKLOAD_COMPONENTS): Promise<EcsdbError> {
    const before = await readTree(fixture.files, fixture.dir);
    const error = await openFixture(fixture, { components }).then(
      () => expect.fail(`open() succeeded where ${code} was expected`),
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(EcsdbError);
    expect((error as EcsdbError).code).toBe(code);
    for (const part of parts) expect((error as EcsdbError).message).toContain(part);
    const after = await readTree(fixture.files, fixture.dir);
    expect(after.has('LOCK'), 'a failed open must release its lock').toBe(false);
    expect(after).toEqual(before);
    return error as EcsdbError;
  }

  test('a segment with a newer format version (and a correct header CRC) is FORMAT_VERSION_UNSUPPORTED', async () => {
    const name = names[1];
    const header = (await readBytes(fixture.files, segmentPath(fixture, name))).slice(0, 40);
    const view = new DataView(header.buffer);
    view.setUint16(8, WAL_FORMAT_VERSION + 1, true);
    view.setUint32(36, crc32(header.subarray(0, 36)), true);
    await patchFile(fixture.files, segmentPath(fixture, name), 0, header);
    await expectRefusedUnchanged('FORMAT_VERSION_UNSUPPORTED', [name, `format version ${WAL_FORMAT_VERSION + 1}`]);
  });

  test('a segment copied from another database is DATABASE_MISMATCH', async () => {
    const other = await kind.create();
    cleanups.push(() => other.cleanup());
    await populate(other, SEED + 1, 10);
    const name = names[0];
    expect(await segmentNames(other)).toContain(name);
    await writeWholeFile(fixture.files, segmentPath(fixture, name), await readBytes(other.files, segmentPath(other, name)));
    await expectRefusedUnchanged('DATABASE_MISMATCH', [name, 'another database']);
  });

  test('a missing middle segment is CORRUPT_WAL naming the gap', async () => {
    const missingFirstLsn = Number(names[1].slice(0, 20));
    const nextFirstLsn = Number(names[2].slice(0, 20));
    await fixture.files.unlink(segmentPath(fixture, names[1]));
    await expectRefusedUnchanged('CORRUPT_WAL', [names[0], names[2], `records ${missingFirstLsn}..${nextFirstLsn - 1} are missing`]);
  });

  test('a missing first segment is CORRUPT_WAL', async () => {
    await fixture.files.unlink(segmentPath(fixture, names[0]));
    await expectRefusedUnchanged('CORRUPT_WAL', [names[1], 'the first segment is missing']);
  });

  test('a meta file with a newer format version is FORMAT_VERSION_UNSUPPORTED', async () => {
    const version = new Uint8Array(2);
    new DataView(version.buffer).setUint16(0, META_FORMAT_VERSION_EVOLVED + 1, true);
    await patchFile(fixture.files, join(fixture.dir, META_FILE_NAME), 8, version);
    await expectRefusedUnchanged('FORMAT_VERSION_UNSUPPORTED', [META_FILE_NAME, `version ${META_FORMAT_VERSION_EVOLVED + 1}`]);
  });

  test('a meta file naming a newer WAL format version is FORMAT_VERSION_UNSUPPORTED', async () => {
    const meta = (await readMeta(fixture.files, fixture.dir))!;
    await writeWholeFile(fixture.files, join(fixture.dir, META_FILE_NAME), encodeMeta({ ...meta, walFormatVersion: WAL_FORMAT_VERSION + 1 }));
    await expectRefusedUnchanged('FORMAT_VERSION_UNSUPPORTED', [META_FILE_NAME]);
  });

  test('a damaged meta file is CORRUPT_WAL naming it', async () => {
    const size = (await readBytes(fixture.files, join(fixture.dir, META_FILE_NAME))).length;
    await patchFile(fixture.files, join(fixture.dir, META_FILE_NAME), size - 1, new Uint8Array([0xee]));
    await expectRefusedUnchanged('CORRUPT_WAL', [META_FILE_NAME]);
  });

  test('WAL segments without a meta file are CORRUPT_WAL', async () => {
    await fixture.files.unlink(join(fixture.dir, META_FILE_NAME));
    await expectRefusedUnchanged('CORRUPT_WAL', ['no ecsdb.meta']);
  });

  test('opening with a field type that has no safe conversion is SCHEMA_MISMATCH naming it', async () => {
    await expectRefusedUnchanged('SCHEMA_MISMATCH', ['component Health, field hp', 'i32 to i16'], NARROWED);
  });

  test('after a refused open the directory opens again once the cause is gone', async () => {
    await expectRefusedUnchanged('SCHEMA_MISMATCH', [], NARROWED);
    const db = await openFixture(fixture);
    expect(db.recovery!.wal.tornTail).toBeUndefined();
    expect(db.lsn).toBeGreaterThan(0);
    await db.close();
  });
});
