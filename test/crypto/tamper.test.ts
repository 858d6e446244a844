/**
 * Tampering with an encrypted directory is detected like corruption, naming the file and the byte
 * offset: a flipped byte in each file kind, and the harder cases where the attacker also fixes
 * the CRC-32 (only the GCM tag can notice) or moves a sealed record to another LSN.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { EcsdbError, defineComponent, open, t } from '../../src/index.js';
import { RECORD_HEADER_SIZE_BYTES, RECORD_KIND_TIME, SEGMENT_HEADER_SIZE_BYTES, checkRecordAt, recordKindAt } from '../../src/wal/format.js';
import { SECTION_HEADER_SIZE_BYTES, SNAPSHOT_HEADER_SIZE_BYTES, decodeSectionHeader } from '../../src/snapshot/format.js';
import { FRAME_HEADER_SIZE_BYTES } from '../../src/encoding/framed.js';

const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const Label = defineComponent('Label', { text: t.string });
const COMPONENTS = [Position, Label];
const KEY = randomBytes(32).toString('hex');
const ENCRYPTION = { key: KEY };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecsdb-tamper-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 300 point commits of the same shape (so records are the same length), then a close. */
async function pointCommits(options: { snapshot?: boolean; compressArchive?: boolean } = {}): Promise<void> {
  const db = await open({ dir, components: COMPONENTS, config: false, env: {}, encryption: ENCRYPTION, wal: { segmentSizeBytesMax: 4096 }, archive: { compress: options.compressArchive ?? false } });
  const e = db.transact((tx) => {
    const entity = tx.create();
    tx.add(entity, Position);
    tx.add(entity, Label, { text: 'marker' });
    return entity;
  }).value;
  for (let i = 0; i < 150; i++) {
    // A strict commit every ten ends a batch, so the WAL rotates into several segments.
    const commit = db.transact((tx) => tx.set(e, Position, { x: i, y: i, z: i }), { durability: i % 10 === 9 ? 'strict' : 'buffered' });
    if (i % 10 === 9) await commit.durable;
  }
  if (options.snapshot === true) await db.snapshot();
  for (let i = 0; i < 150; i++) db.transact((tx) => tx.set(e, Position, { x: -i, y: i, z: i }));
  await db.close();
}

async function openError(): Promise<EcsdbError> {
  const error = await open({ dir, components: COMPONENTS, config: false, env: {}, encryption: ENCRYPTION }).then(
    async (db) => {
      await db.close();
      return expect.fail('open() succeeded on a tampered directory');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EcsdbError);
  return error as EcsdbError;
}

/**
 * Offsets of the write-set records of a segment. Time records (kind 2, in the clear, written when
 * the clock moved to a new millisecond) are skipped: where they fall depends on the clock.
 */
function recordOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets: number[] = [];
  for (let offset = SEGMENT_HEADER_SIZE_BYTES; offset < bytes.length; ) {
    if (recordKindAt(bytes, offset) !== RECORD_KIND_TIME) offsets.push(offset);
    const end = checkRecordAt(bytes, view, offset);
    if (typeof end === 'string') throw new Error(`bad record at ${offset}`);
    offset = end;
  }
  return offsets;
}

function fixRecordCrc(bytes: Uint8Array, offset: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = offset + RECORD_HEADER_SIZE_BYTES + view.getUint32(offset, true);
  view.setUint32(offset + 4, crc32(bytes.subarray(offset + 8, end)), true);
}

async function firstSegment(sub: 'wal' | 'archive'): Promise<{ path: string; bytes: Uint8Array }> {
  const name = (await readdir(join(dir, sub))).sort()[0];
  const path = join(dir, sub, name);
  return { path, bytes: new Uint8Array(await readFile(path)) };
}

test('a flipped byte in a WAL record before the tail: CORRUPT_WAL naming the segment and offset', async () => {
  await pointCommits();
  const { path, bytes } = await firstSegment('wal');
  const offset = recordOffsets(bytes)[5];
  bytes[offset + RECORD_HEADER_SIZE_BYTES + 20] ^= 0x01;
  await writeFile(path, bytes);
  const error = await openError();
  expect(error.code).toBe('CORRUPT_WAL');
  expect(error.message).toContain(path.slice(path.lastIndexOf('/') + 1));
  expect(error.message).toContain(`offset ${offset}`);
  expect({ file: error.file, offset: error.offset }).toEqual({ file: `wal/${path.slice(path.lastIndexOf('/') + 1)}`, offset });
});

test('a flipped ciphertext byte with the CRC fixed: the GCM tag catches it (CORRUPT_WAL, not a torn tail)', async () => {
  await pointCommits();
  const { path, bytes } = await firstSegment('wal');
  const offsets = recordOffsets(bytes);
  // The very last record: without authentication this would pass for valid data.
  const offset = offsets[offsets.length - 1];
  bytes[offset + RECORD_HEADER_SIZE_BYTES + 14] ^= 0x80;
  fixRecordCrc(bytes, offset);
  await writeFile(path, bytes);
  const error = await openError();
  expect(error.code).toBe('CORRUPT_WAL');
  expect(error.message).toMatch(/does not authenticate/);
  expect(error.message).toContain(`offset ${offset}`);
  expect(error.offset).toBe(offset);
});

test('a sealed record moved to another LSN (payload swapped, CRCs fixed) does not authenticate', async () => {
  await pointCommits();
  const { path, bytes } = await firstSegment('wal');
  const [, , a, b] = recordOffsets(bytes);
  const length = b - a;
  const recordA = bytes.slice(a, a + length);
  const recordB = bytes.slice(b, b + length);
  expect(recordA.length).toBe(recordB.length);
  // Keep each record's LSN, swap the sealed payloads.
  bytes.set(recordB.subarray(RECORD_HEADER_SIZE_BYTES), a + RECORD_HEADER_SIZE_BYTES);
  bytes.set(recordA.subarray(RECORD_HEADER_SIZE_BYTES), b + RECORD_HEADER_SIZE_BYTES);
  fixRecordCrc(bytes, a);
  fixRecordCrc(bytes, b);
  await writeFile(path, bytes);
  const error = await openError();
  expect(error.code).toBe('CORRUPT_WAL');
  expect(error.message).toMatch(/does not authenticate/);
});

test('a snapshot section altered with its CRC fixed, and a header whose end LSN was changed, are skipped as damaged', async () => {
  await pointCommits({ snapshot: true });
  const name = (await readdir(join(dir, 'snapshots'))).find((n) => n.endsWith('.snap'))!;
  const path = join(dir, 'snapshots', name);
  const original = new Uint8Array(await readFile(path));

  const bytes = original.slice();
  const offset = SNAPSHOT_HEADER_SIZE_BYTES + SECTION_HEADER_SIZE_BYTES + decodeSectionHeader(bytes, SNAPSHOT_HEADER_SIZE_BYTES).storedSizeBytes; // second section
  const section = decodeSectionHeader(bytes, offset);
  const stored = bytes.subarray(offset + SECTION_HEADER_SIZE_BYTES, offset + SECTION_HEADER_SIZE_BYTES + section.storedSizeBytes);
  stored[stored.length - 1] ^= 0x01;
  new DataView(bytes.buffer).setUint32(offset + 4, crc32(stored), true);
  await writeFile(path, bytes);
  const db = await open({ dir, components: COMPONENTS, config: false, env: {}, encryption: ENCRYPTION });
  expect(db.recovery!.snapshot, 'the damaged snapshot is not used').toBeUndefined();
  expect(db.recovery!.skippedSnapshots[0].reason).toContain('does not authenticate');
  expect(db.recovery!.skippedSnapshots[0].reason).toContain(`offset ${offset + SECTION_HEADER_SIZE_BYTES}`);
  expect(db.lsn, 'the WAL from LSN 1 still recovers everything').toBe(301);
  await db.close();

  const header = original.slice();
  const view = new DataView(header.buffer);
  view.setBigUint64(36, view.getBigUint64(36, true) + 1n, true); // end LSN
  view.setUint32(60, crc32(header.subarray(0, 60)), true);
  await writeFile(path, header);
  const again = await open({ dir, components: COMPONENTS, config: false, env: {}, encryption: ENCRYPTION });
  expect(again.recovery!.snapshot).toBeUndefined();
  expect(again.recovery!.skippedSnapshots[0].reason).toContain('does not authenticate');
  await again.close();
});

test('a flipped byte in a compressed archive: CORRUPT_WAL naming the file when recovery needs it', async () => {
  await pointCommits({ snapshot: true, compressArchive: true });
  await rm(join(dir, 'snapshots'), { recursive: true });
  await rm(join(dir, 'MANIFEST'));
  const { path, bytes } = await firstSegment('archive');
  expect(path.endsWith('.deflate')).toBe(true);
  bytes[bytes.length - 20] ^= 0x04;
  await writeFile(path, bytes);
  const error = await openError();
  expect(error.code).toBe('CORRUPT_WAL');
  expect(error.file).toBe(`archive/${path.slice(path.lastIndexOf('/') + 1)}`);
  expect(error.offset).toBe(10);
  expect(error.message).toContain('does not authenticate');
});

test('the meta file: a sealed schema altered (framing checksum fixed) is refused; a flipped byte is CORRUPT_WAL', async () => {
  await pointCommits();
  const path = join(dir, 'ecsdb.meta');
  const original = new Uint8Array(await readFile(path));
  const flipped = original.slice();
  flipped[flipped.length - 3] ^= 0x01;
  await writeFile(path, flipped);
  expect((await openError()).code).toBe('CORRUPT_WAL');
  // The sealed schema is the payload's last field: alter it and fix the frame's CRC-32.
  new DataView(flipped.buffer).setUint32(14, crc32(flipped.subarray(FRAME_HEADER_SIZE_BYTES)), true);
  await writeFile(path, flipped);
  const error = await openError();
  expect(error.code).toBe('CORRUPT_WAL');
  expect(error.message).toContain('sealed schema does not authenticate');
});
