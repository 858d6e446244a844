/**
 * Pins the WAL byte format of src/wal/format.ts. If one of the golden strings here has to
 * change, the on-disk format changed: bump WAL_FORMAT_VERSION and say so in docs/wal-format.md.
 *
 * The expected bytes were derived by hand from the layout table in format.ts, and the CRC-32
 * values cross-checked with Python's zlib.crc32 (an independent implementation).
 */
import { crc32 } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { defineComponent, t } from '../../src/index.js';
import { encodeWriteSet, type WriteSet } from '../../src/txn/write-set.js';
import {
  RECORD_FLAG_STARTS_WRITE,
  RECORD_HEADER_SIZE_BYTES,
  RECORD_KIND_TIME,
  RECORD_KIND_WRITE_SET,
  SEGMENT_HEADER_SIZE_BYTES,
  TIME_RECORD_SIZE_BYTES,
  WAL_FORMAT_VERSION,
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  encodeTimeRecord,
  lsnAfterRecord,
  recordKindAt,
  recordKindProblem,
  recordStartsWrite,
  recordTimeMsAt,
  parseSegmentFileName,
  readRecordAt,
  segmentFileName,
} from '../../src/wal/format.js';
import { World } from '../../src/world/world.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

/** Database id 00 01 02 .. 0f. */
const DATABASE_ID = Uint8Array.from({ length: 16 }, (_, i) => i);

const SEGMENT_HEADER_HEX = [
  '454353444257414c', // 0   magic "ECSDBWAL"
  '0400', //             8   format version 4
  '0000', //             10  flags 0
  '000102030405060708090a0b0c0d0e0f', // 12 database id
  '0100000000000000', // 28  first LSN 1
  '9fabbd05', //         36  CRC-32 of bytes 0..35 (0x05bdab9f)
].join('');

/** A time record: the write set with LSN 5 and those after it were committed at 1700000000123 ms. */
const TIME_RECORD_HEX = [
  '08000000', // 0   payload length 8
  'c514824c', // 4   CRC-32 of bytes 8..24 (0x4c8214c5)
  '0500000000000000', // 8 LSN 5 (of the write set it stamps; takes no LSN itself)
  '02', //        16  kind 2 = time
  '7b68e5cf8b010000', // 17 u64 ms 1700000000123
].join('');

/** One new entity (slot 0, generation 0, alive) with Position { x: 1, y: 2, z: 3 }. */
const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const WRITE_SET: WriteSet = {
  slots: { slots: [0], generations: [0], alive: [1] },
  components: [{ componentIndex: 0, removedSlots: [], upserts: [{ fieldMask: 0b111, slots: [0], columns: [[1], [2], [3]] }] }],
};
const PAYLOAD_HEX = [
  '01', '00', '01', // one slot: slot 0, generation 0 * 2 + alive 1
  '01', '00', '00', '01', // one component: index 0, no removals, one upsert
  '07', '02', '00', // field mask x|y|z, one row listed (1 * 2 + 0): slot 0
  '0000803f', '00000040', '00004040', // f32 1, 2, 3
].join('');
const RECORD_HEX = [
  '16000000', // 0   payload length 22
  'd7d8737f', // 4   CRC-32 of bytes 8..38 (0x7f73d8d7)
  '0500000000000000', // 8 LSN 5
  '01', //        16  kind 1 = write set
  PAYLOAD_HEX, // 17 payload
].join('');

function payload(): Uint8Array {
  const world = new World([Position]);
  return encodeWriteSet(WRITE_SET, world.tables.map((table) => table.fields));
}

/** The same record as the first of a write: kind byte 0x81 (flag 0x80 | kind 1), checksum over it. */
const RECORD_STARTING_WRITE_HEX = [
  '16000000', // 0   payload length 22
  'b7eae774', // 4   CRC-32 of bytes 8..38 (0x74e7eab7)
  '0500000000000000', // 8 LSN 5
  '81', //        16  kind 1 = write set, bit 7 = starts a write
  PAYLOAD_HEX, // 17 payload
].join('');

describe('WAL format golden bytes', () => {
  test('the layout constants match the table in format.ts', () => {
    expect(SEGMENT_HEADER_SIZE_BYTES).toBe(40);
    expect(RECORD_HEADER_SIZE_BYTES).toBe(17);
    expect(WAL_FORMAT_VERSION).toBe(4);
    expect(RECORD_FLAG_STARTS_WRITE).toBe(0x80);
    expect(RECORD_KIND_WRITE_SET).toBe(1);
    expect(RECORD_KIND_TIME).toBe(2);
    expect(TIME_RECORD_SIZE_BYTES).toBe(25);
  });

  test('a segment header (database id 0..15, first LSN 1) encodes to the pinned 40 bytes', () => {
    const bytes = encodeSegmentHeader(DATABASE_ID, 1);
    expect(hex(bytes)).toBe(SEGMENT_HEADER_HEX);
    expect(new DataView(bytes.buffer).getUint32(36, true)).toBe(crc32(bytes.subarray(0, 36)));
  });

  test('the pinned segment header decodes to its fields', () => {
    expect(decodeSegmentHeader(fromHex(SEGMENT_HEADER_HEX))).toEqual({ formatVersion: 4, databaseId: DATABASE_ID, firstLsn: 1 });
  });

  test('a time record (LSN 5, 1700000000123 ms) encodes to the pinned 25 bytes and reads back', () => {
    const bytes = encodeTimeRecord(5, 1_700_000_000_123);
    expect(hex(bytes)).toBe(TIME_RECORD_HEX);
    const view = new DataView(bytes.buffer);
    expect(readRecordAt(bytes, view, 0)).toMatchObject({ lsn: 5, kind: 2, end: 25 });
    expect(recordKindProblem(bytes, view, 0)).toBeUndefined();
    expect(recordTimeMsAt(view, 0)).toBe(1_700_000_000_123);
  });

  test('a time record takes no LSN: the write set after it has the same one', () => {
    const time = encodeTimeRecord(5, 1);
    const record = encodeRecord(5, RECORD_KIND_WRITE_SET, payload());
    expect(lsnAfterRecord(time, 0, 5)).toBe(5);
    expect(lsnAfterRecord(record, 0, 5)).toBe(6);
  });

  test('a checksummed record of an unknown kind, or a time record of another size, is named', () => {
    const unknown = encodeRecord(5, 4, new Uint8Array([1]));
    expect(recordKindProblem(unknown, new DataView(unknown.buffer), 0)).toBe('has unknown kind 4');
    const longTime = encodeRecord(5, RECORD_KIND_TIME, new Uint8Array(9));
    expect(recordKindProblem(longTime, new DataView(longTime.buffer), 0)).toMatch(/time record with a 9-byte payload/);
  });

  test('the small write set payload encodes to the pinned 22 bytes', () => {
    expect(hex(payload())).toBe(PAYLOAD_HEX);
  });

  test('a record (LSN 5, that payload) encodes to the pinned 39 bytes', () => {
    const bytes = encodeRecord(5, RECORD_KIND_WRITE_SET, payload());
    expect(bytes.length).toBe(39);
    expect(hex(bytes)).toBe(RECORD_HEX);
    expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(crc32(bytes.subarray(8)));
  });

  test('the pinned record reads back as LSN 5, kind 1, with its payload', () => {
    const bytes = fromHex(RECORD_HEX);
    const record = readRecordAt(bytes, new DataView(bytes.buffer), 0);
    expect(record).toEqual({ lsn: 5, kind: 1, startsWrite: false, payload: fromHex(PAYLOAD_HEX), end: 39 });
  });

  test('the first record of a write carries bit 7 of the kind byte, covered by its checksum', () => {
    const bytes = encodeRecord(5, RECORD_KIND_WRITE_SET | RECORD_FLAG_STARTS_WRITE, payload());
    expect(hex(bytes)).toBe(RECORD_STARTING_WRITE_HEX);
    const view = new DataView(bytes.buffer);
    expect(readRecordAt(bytes, view, 0)).toEqual({ lsn: 5, kind: 1, startsWrite: true, payload: fromHex(PAYLOAD_HEX), end: 39 });
    expect(recordKindAt(bytes, 0)).toBe(RECORD_KIND_WRITE_SET);
    expect(recordStartsWrite(bytes, 0)).toBe(true);
    expect(recordKindProblem(bytes, view, 0)).toBeUndefined();
    expect(lsnAfterRecord(bytes, 0, 5)).toBe(6);
    const time = encodeTimeRecord(5, 1, RECORD_FLAG_STARTS_WRITE);
    expect(recordKindAt(time, 0)).toBe(RECORD_KIND_TIME);
    expect(lsnAfterRecord(time, 0, 5)).toBe(5);
  });

  test('an LSN above 2^32 is stored as a little-endian 64-bit integer', () => {
    const lsn = 2 ** 40 + 7;
    const bytes = encodeRecord(lsn, RECORD_KIND_WRITE_SET, new Uint8Array([0xaa]));
    expect(hex(bytes.subarray(8, 16))).toBe('0700000000010000');
    expect(readRecordAt(bytes, new DataView(bytes.buffer), 0)).toMatchObject({ lsn });
  });
});

describe('decodeSegmentHeader', () => {
  test('names a header shorter than 40 bytes short', () => {
    expect(decodeSegmentHeader(fromHex(SEGMENT_HEADER_HEX).subarray(0, 39))).toBe('short');
  });

  test('names a header with a wrong magic magic', () => {
    const bytes = fromHex(SEGMENT_HEADER_HEX);
    bytes[3] ^= 1;
    expect(decodeSegmentHeader(bytes)).toBe('magic');
  });

  test('names a header with any other damaged byte checksum', () => {
    for (let offset = 8; offset < SEGMENT_HEADER_SIZE_BYTES; offset++) {
      const bytes = fromHex(SEGMENT_HEADER_HEX);
      bytes[offset] ^= 0x10;
      expect(decodeSegmentHeader(bytes), `byte ${offset}`).toBe('checksum');
    }
  });
});

describe('readRecordAt', () => {
  const record = (): Uint8Array => fromHex(RECORD_HEX);

  test('names fewer than 17 remaining bytes short-header', () => {
    const bytes = record().subarray(0, 16);
    expect(readRecordAt(bytes, new DataView(bytes.buffer, 0, 16), 0)).toBe('short-header');
  });

  test('names a zero length bad-length', () => {
    const bytes = record();
    bytes.set([0, 0, 0, 0], 0);
    expect(readRecordAt(bytes, new DataView(bytes.buffer), 0)).toBe('bad-length');
  });

  test('names a length above 256 MiB bad-length, without allocating it', () => {
    const bytes = record();
    new DataView(bytes.buffer).setUint32(0, 256 * 1024 * 1024 + 1, true);
    expect(readRecordAt(bytes, new DataView(bytes.buffer), 0)).toBe('bad-length');
  });

  test('names a record cut short past-end', () => {
    const bytes = record().slice(0, 38);
    expect(readRecordAt(bytes, new DataView(bytes.buffer), 0)).toBe('past-end');
  });

  test('names a flipped bit in the checksum, LSN, kind or payload checksum', () => {
    for (let offset = 4; offset < 39; offset++) {
      const bytes = record();
      bytes[offset] ^= 0x01;
      expect(readRecordAt(bytes, new DataView(bytes.buffer), 0), `byte ${offset}`).toBe('checksum');
    }
  });
});

describe('segment file names', () => {
  test('encode the first LSN as 20 digits and .wal', () => {
    expect(segmentFileName(1)).toBe('00000000000000000001.wal');
    expect(segmentFileName(1234567)).toBe('00000000000001234567.wal');
  });

  test('round-trip through parseSegmentFileName', () => {
    for (const lsn of [1, 9, 10, 4096, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER]) {
      expect(parseSegmentFileName(segmentFileName(lsn))).toBe(lsn);
    }
  });

  test('sort in LSN order as plain strings', () => {
    const lsns = [1, 2, 10, 99, 100, 12345, 2 ** 40];
    const names = lsns.map(segmentFileName);
    expect([...names].reverse().sort()).toEqual(names);
  });

  test.each([
    ['not a number', 'segment.wal'],
    ['19 digits', '0000000000000000001.wal'],
    ['21 digits', '000000000000000000001.wal'],
    ['another suffix', '00000000000000000001.wal.tmp'],
    ['upper-case suffix', '00000000000000000001.WAL'],
    ['no suffix', '00000000000000000001'],
    ['a directory prefix', 'wal/00000000000000000001.wal'],
    ['a sign', '-0000000000000000001.wal'],
    ['LSN 0', '00000000000000000000.wal'],
    ['an LSN beyond 2^53', '99999999999999999999.wal'],
    ['the meta file', 'ecsdb.meta'],
  ])('reject %s (%s)', (_what, name) => {
    expect(parseSegmentFileName(name)).toBeUndefined();
  });
});
