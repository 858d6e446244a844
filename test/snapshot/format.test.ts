/**
 * The snapshot and manifest byte formats, pinned. If any of these golden bytes change, old files
 * no longer read the same: the format version must change with them (STYLE.md, "one module per
 * on-disk format"). The expected bytes are spelled out field by field from the layout tables in
 * src/snapshot/format.ts and src/encoding/framed.ts; only the checksums are pinned as constants.
 */
import { describe, expect, test } from 'vitest';
import { EcsdbError } from '../../src/index.js';
import {
  SECTION_HEADER_SIZE_BYTES,
  SNAPSHOT_FLAG_INCREMENTAL,
  SNAPSHOT_HEADER_SIZE_BYTES,
  decodeSectionHeader,
  decodeSnapshotHeader,
  encodeSectionHeader,
  encodeSnapshotHeader,
  parseSnapshotFileName,
  snapshotFileName,
  type SectionHeader,
} from '../../src/snapshot/format.js';
import { decodeManifest, encodeManifest, type Manifest } from '../../src/snapshot/manifest.js';
import { thrownBy } from '../helpers/errors.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

const DATABASE_ID = Uint8Array.from({ length: 16 }, (_, i) => i);
const HEADER_INPUT = { databaseId: DATABASE_ID, startLsn: 5, endLsn: 9, createdAtMs: 1_700_000_000_000, sectionCount: 3 };

const GOLDEN_HEADER = [
  '4543534442534e50', // magic "ECSDBSNP"
  '0100', // format version 1
  '0000', // flags: none (a full snapshot)
  '000102030405060708090a0b0c0d0e0f', // database id
  '0500000000000000', // start LSN 5
  '0900000000000000', // end LSN 9
  '0068e5cf8b010000', // created at 1,700,000,000,000 ms
  '03000000', // section count 3
  '00000000', // reserved
  '91f53228', // CRC-32 of bytes 0..59, pinned
].join('');

/** The same header with flag bit 0 (incremental): only the flags and the checksum differ. */
const GOLDEN_INCREMENTAL_HEADER = GOLDEN_HEADER.slice(0, 20) + '0100' + GOLDEN_HEADER.slice(24, 120) + '60ec03ac';

const SECTION_INPUT: SectionHeader = {
  storedSizeBytes: 10,
  crc: 0xdeadbeef,
  rawSizeBytes: 20,
  kind: 5,
  compression: 1,
  componentIndex: 2,
  fieldIndex: 3,
  firstSlot: 256,
  slotCount: 7,
};

const GOLDEN_SECTION = [
  '0a000000', // stored length 10
  'efbeadde', // CRC-32 of the stored bytes
  '14000000', // raw length 20
  '05', // kind: column
  '01', // compression: deflate
  '0000', // reserved
  '02000000', // component index 2
  '03000000', // field index 3
  '00010000', // first slot 256
  '07000000', // slot count 7
].join('');

const MANIFEST_INPUT: Manifest = {
  snapshots: [{ file: '00000000000000000009.snap', startLsn: 5, endLsn: 9, createdAtMs: 1_700_000_000_000, sizeBytes: 100 }],
};

const GOLDEN_MANIFEST = [
  '45435344424d414e', // magic "ECSDBMAN"
  '0100', // format version 1
  '5e000000', // payload length 94
  '39c70a01', // CRC-32 of the payload, pinned
  // MessagePack { snapshots: [{ file, startLsn, endLsn, createdAtMs, sizeBytes }] }
  '81', 'a9' + hex(Buffer.from('snapshots')), '91', '85',
  'a4' + hex(Buffer.from('file')), 'b9' + hex(Buffer.from('00000000000000000009.snap')),
  'a8' + hex(Buffer.from('startLsn')), '05',
  'a6' + hex(Buffer.from('endLsn')), '09',
  'ab' + hex(Buffer.from('createdAtMs')), 'cf0000018bcfe56800',
  'a9' + hex(Buffer.from('sizeBytes')), '64',
].join('');

describe('snapshot header', () => {
  test('encodes fixed inputs to the golden bytes', () => {
    const bytes = encodeSnapshotHeader(HEADER_INPUT);
    expect(bytes.length).toBe(SNAPSHOT_HEADER_SIZE_BYTES);
    expect(hex(bytes)).toBe(GOLDEN_HEADER);
  });

  test('decodes the golden bytes back to the inputs, format version 1, no flags', () => {
    expect(decodeSnapshotHeader(unhex(GOLDEN_HEADER))).toEqual({ ...HEADER_INPUT, formatVersion: 1, flags: 0 });
  });

  test('encodes the incremental flag to the golden bytes and decodes it back', () => {
    const bytes = encodeSnapshotHeader({ ...HEADER_INPUT, flags: SNAPSHOT_FLAG_INCREMENTAL });
    expect(hex(bytes)).toBe(GOLDEN_INCREMENTAL_HEADER);
    expect(decodeSnapshotHeader(bytes)).toEqual({ ...HEADER_INPUT, formatVersion: 1, flags: 1 });
  });

  test('round-trips large LSNs and timestamps exactly', () => {
    const input = { databaseId: DATABASE_ID.slice().reverse(), startLsn: 2 ** 52 + 1, endLsn: Number.MAX_SAFE_INTEGER, createdAtMs: 2 ** 50, sectionCount: 0xffff_fffe };
    expect(decodeSnapshotHeader(encodeSnapshotHeader(input))).toEqual({ ...input, formatVersion: 1, flags: 0 });
  });

  test('decodes a header at the start of a longer buffer that is not aligned', () => {
    const buffer = new Uint8Array(SNAPSHOT_HEADER_SIZE_BYTES + 3);
    buffer.set(unhex(GOLDEN_HEADER), 1);
    expect(decodeSnapshotHeader(buffer.subarray(1))).toEqual({ ...HEADER_INPUT, formatVersion: 1, flags: 0 });
  });

  test('every flipped byte of the header is reported, never decoded', () => {
    for (let position = 0; position < SNAPSHOT_HEADER_SIZE_BYTES; position++) {
      const bytes = unhex(GOLDEN_HEADER);
      bytes[position] ^= 0x01;
      expect(typeof decodeSnapshotHeader(bytes), `flip at ${position}`).toBe('string');
    }
  });

  test('a short file and a wrong magic are reported as such', () => {
    expect(decodeSnapshotHeader(unhex(GOLDEN_HEADER).subarray(0, 63))).toMatch(/shorter than the header/);
    const wrongMagic = unhex(GOLDEN_HEADER);
    wrongMagic[0] = 0x58;
    expect(decodeSnapshotHeader(wrongMagic)).toMatch(/wrong magic/);
  });
});

describe('section header', () => {
  test('encodes fixed inputs to the golden bytes', () => {
    const bytes = encodeSectionHeader(SECTION_INPUT);
    expect(bytes.length).toBe(SECTION_HEADER_SIZE_BYTES);
    expect(hex(bytes)).toBe(GOLDEN_SECTION);
  });

  test('decodes at an unaligned offset inside a file', () => {
    const file = new Uint8Array(7 + SECTION_HEADER_SIZE_BYTES + 5).fill(0xaa);
    file.set(unhex(GOLDEN_SECTION), 7);
    expect(decodeSectionHeader(file, 7)).toEqual(SECTION_INPUT);
  });

  test('round-trips the largest values of every field', () => {
    const input: SectionHeader = {
      storedSizeBytes: 0xffff_ffff,
      crc: 0,
      rawSizeBytes: 0xffff_ffff,
      kind: 255,
      compression: 0,
      componentIndex: 0xffff_ffff,
      fieldIndex: 0x8000_0000,
      firstSlot: 2 ** 24 - 1,
      slotCount: 1,
    };
    expect(decodeSectionHeader(encodeSectionHeader(input), 0)).toEqual(input);
  });
});

describe('snapshot file names', () => {
  test('are the end LSN as 20 digits and .snap', () => {
    expect(snapshotFileName(9)).toBe('00000000000000000009.snap');
    expect(snapshotFileName(0)).toBe('00000000000000000000.snap');
    expect(snapshotFileName(Number.MAX_SAFE_INTEGER)).toBe('00009007199254740991.snap');
  });

  test('parse back to the LSN they encode', () => {
    for (const lsn of [0, 1, 9, 123_456_789, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      expect(parseSnapshotFileName(snapshotFileName(lsn))).toBe(lsn);
    }
  });

  test('sort in LSN order as strings', () => {
    const lsns = [1000, 9, 10, 2 ** 33, 99];
    const names = lsns.map(snapshotFileName).sort();
    expect(names.map(parseSnapshotFileName)).toEqual([...lsns].sort((a, b) => a - b));
  });

  test.each([
    ['too few digits', '9.snap'],
    ['21 digits', '000000000000000000009.snap'],
    ['a temp file', '00000000000000000009.snap.1700000000000.tmp'],
    ['another suffix', '00000000000000000009.wal'],
    ['a sign', '-0000000000000000009.snap'],
    ['beyond the safe integers', '99999999999999999999.snap'],
    ['the manifest', 'MANIFEST'],
  ])('reject %s', (_what, name) => {
    expect(parseSnapshotFileName(name)).toBeUndefined();
  });
});

describe('manifest', () => {
  const PATH = '/data/db/MANIFEST';

  test('encodes fixed inputs to the golden bytes', () => {
    expect(hex(encodeManifest(MANIFEST_INPUT))).toBe(GOLDEN_MANIFEST);
  });

  test('decodes the golden bytes back to the inputs', () => {
    expect(decodeManifest(unhex(GOLDEN_MANIFEST), PATH)).toEqual(MANIFEST_INPUT);
  });

  test('round-trips an incremental entry naming its base', () => {
    const chained: Manifest = { snapshots: [MANIFEST_INPUT.snapshots[0], { file: snapshotFileName(20), startLsn: 15, endLsn: 20, createdAtMs: 2, sizeBytes: 50, base: MANIFEST_INPUT.snapshots[0].file }] };
    expect(decodeManifest(encodeManifest(chained), PATH)).toEqual(chained);
  });

  test('round-trips an empty list and several entries, oldest first', () => {
    expect(decodeManifest(encodeManifest({ snapshots: [] }), PATH)).toEqual({ snapshots: [] });
    const many: Manifest = {
      snapshots: [1, 2, 3].map((i) => ({ file: snapshotFileName(i * 1000), startLsn: i * 1000 - 7, endLsn: i * 1000, createdAtMs: i, sizeBytes: i * 4096 })),
    };
    expect(decodeManifest(encodeManifest(many), PATH)).toEqual(many);
  });

  function damageError(bytes: Uint8Array): EcsdbError {
    const error = thrownBy(() => decodeManifest(bytes, PATH));
    expect(error).toBeInstanceOf(EcsdbError);
    expect((error as EcsdbError).code).toBe('CORRUPT_SNAPSHOT');
    expect((error as EcsdbError).message).toContain(PATH);
    return error as EcsdbError;
  }

  test('a flipped payload byte is CORRUPT_SNAPSHOT naming the file and the checksum offset', () => {
    const bytes = unhex(GOLDEN_MANIFEST);
    bytes[40] ^= 0x10;
    expect(damageError(bytes).message).toContain('byte offset 14');
  });

  test('a flipped checksum byte is CORRUPT_SNAPSHOT at the checksum offset', () => {
    const bytes = unhex(GOLDEN_MANIFEST);
    bytes[15] ^= 0xff;
    expect(damageError(bytes).message).toContain('byte offset 14');
  });

  test('a truncated manifest is CORRUPT_SNAPSHOT at the length offset', () => {
    expect(damageError(unhex(GOLDEN_MANIFEST).subarray(0, 60)).message).toContain('byte offset 10');
  });

  test('a manifest shorter than its header is CORRUPT_SNAPSHOT at its end', () => {
    expect(damageError(unhex(GOLDEN_MANIFEST).subarray(0, 11)).message).toContain('byte offset 11');
  });

  test('a wrong magic is CORRUPT_SNAPSHOT at offset 0', () => {
    const bytes = unhex(GOLDEN_MANIFEST);
    bytes[3] = 0x00;
    expect(damageError(bytes).message).toContain('byte offset 0');
  });

  test('a well-framed payload of the wrong shape is CORRUPT_SNAPSHOT', async () => {
    const { encodeFramed } = await import('../../src/encoding/framed.js');
    for (const value of [null, 7, { snapshots: 'x' }, { snapshots: [{ file: '../x.snap', startLsn: 1, endLsn: 2, createdAtMs: 0, sizeBytes: 0 }] }, { snapshots: [{ ...MANIFEST_INPUT.snapshots[0], endLsn: -1 }] }, { snapshots: [{ ...MANIFEST_INPUT.snapshots[0], base: '../9.snap' }] }]) {
      damageError(encodeFramed('ECSDBMAN', 1, value));
    }
  });

  test('a newer format version is FORMAT_VERSION_UNSUPPORTED, not damage', () => {
    const bytes = unhex(GOLDEN_MANIFEST);
    bytes[8] = 2;
    const error = thrownBy(() => decodeManifest(bytes, PATH));
    expect(error).toBeInstanceOf(EcsdbError);
    expect((error as EcsdbError).code).toBe('FORMAT_VERSION_UNSUPPORTED');
  });
});
