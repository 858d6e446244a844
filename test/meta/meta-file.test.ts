/**
 * The ecsdb.meta format (src/meta/meta-file.ts): golden bytes, round trip, the typed errors of a
 * damaged or newer file, and the durability of writing it.
 */
import { encode } from '@msgpack/msgpack';
import { crc32 } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { EcsdbError, defineComponent, t } from '../../src/index.js';
import {
  META_FILE_NAME,
  META_FORMAT_VERSION,
  META_FORMAT_VERSION_EVOLVED,
  decodeMeta,
  epochAt,
  historyOf,
  withHistory,
  encodeMeta,
  readMeta,
  schemaOf,
  writeMeta,
  type DatabaseMeta,
} from '../../src/meta/meta-file.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { encodeFramed } from '../../src/encoding/framed.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

const Position = defineComponent('Position', { x: t.f32, y: t.f32, z: t.f32 });
const Pair = defineComponent('V', { v: t.array(t.u8, 2) });
const Tag = defineComponent('Tag', {});

const META: DatabaseMeta = {
  databaseId: Uint8Array.from({ length: 16 }, (_, i) => i),
  walFormatVersion: 4,
  createdAtMs: 1_700_000_000_000,
  schema: schemaOf([Position, Pair]),
};

/** Derived by hand from the table in meta-file.ts; CRC cross-checked with Python's zlib.crc32. */
const META_HEX = [
  '45435344424d4554', // 0  magic "ECSDBMET"
  '0100', //             8  meta format version 1
  'cd000000', //         10 payload length 205
  '37f34a60', //         14 CRC-32 of the payload (0x604af337)
  // 18: MessagePack map(4)
  '84',
  'aa64617461626173654964', 'c410000102030405060708090a0b0c0d0e0f', // databaseId: bin8(16)
  'b077616c466f726d617456657273696f6e', '04', // walFormatVersion: 4 (WAL format 4: starts-a-write flag)
  'ab6372656174656441744d73', 'cf0000018bcfe56800', // createdAtMs: uint64 1700000000000
  'a6736368656d61', '92', // schema: array(2)
  '82a46e616d65a8506f736974696f6ea66669656c647393', // { name: 'Position', fields: array(3)
  '82a46e616d65a178a46b696e64a3663332', // { name: 'x', kind: 'f32' }
  '82a46e616d65a179a46b696e64a3663332',
  '82a46e616d65a17aa46b696e64a3663332',
  '82a46e616d65a156a66669656c647391', // { name: 'V', fields: array(1)
  '84a46e616d65a176a46b696e64a56172726179a7656c656d656e74a27538a66c656e67746802', // { name: 'v', kind: 'array', element: 'u8', length: 2 }
].join('');

const PATH = '/db/ecsdb.meta';

function thrown(fn: () => unknown): EcsdbError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EcsdbError);
    return error as EcsdbError;
  }
  return expect.fail('expected an EcsdbError');
}

describe('meta file golden bytes', () => {
  test('the 18-byte header holds magic, version 1, payload length and payload CRC-32', () => {
    const bytes = encodeMeta(META);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(Buffer.from(bytes.subarray(0, 8)).toString('latin1')).toBe('ECSDBMET');
    expect(view.getUint16(8, true)).toBe(META_FORMAT_VERSION);
    expect(META_FORMAT_VERSION).toBe(1);
    expect(view.getUint32(10, true)).toBe(bytes.length - 18);
    expect(view.getUint32(14, true)).toBe(crc32(bytes.subarray(18)));
  });

  test('a fixed meta encodes to the pinned bytes', () => {
    expect(hex(encodeMeta(META))).toBe(META_HEX);
  });
});

describe('meta file round trip', () => {
  test('decodeMeta returns what encodeMeta was given', () => {
    const meta: DatabaseMeta = { ...META, schema: schemaOf([Position, Pair, Tag]) };
    expect(decodeMeta(encodeMeta(meta), PATH)).toEqual(meta);
  });

  test('writeMeta then readMeta returns the same meta', async () => {
    const storage = new SimulatedStorage();
    await storage.mkdir('/db');
    await writeMeta(storage, '/db', META);
    expect(await readMeta(storage, '/db')).toEqual(META);
    expect(await storage.list('/db')).toEqual([META_FILE_NAME]);
  });

  test('readMeta of a directory without a meta file is undefined', async () => {
    const storage = new SimulatedStorage();
    await storage.mkdir('/db');
    expect(await readMeta(storage, '/db')).toBeUndefined();
  });
});

describe('meta file durability', () => {
  test('the meta file is durable once writeMeta returns', async () => {
    const storage = new SimulatedStorage();
    await storage.mkdir('/db');
    await writeMeta(storage, '/db', META);
    expect(await readMeta(storage.crash({ tear: 'none' }), '/db')).toEqual(META);
  });

  test('a power loss at any call of writeMeta leaves no meta file or the complete one', async () => {
    const dry = new SimulatedStorage();
    await dry.mkdir('/db');
    const start = dry.ioCount;
    await writeMeta(dry, '/db', META);
    for (let k = start; k < dry.ioCount; k++) {
      for (const tear of ['none', 'all', 'random'] as const) {
        const storage = new SimulatedStorage();
        await storage.mkdir('/db');
        storage.crashAt(k);
        await writeMeta(storage, '/db', META).catch(() => undefined);
        const survivor = storage.crash({ tear, seed: k });
        const found = await readMeta(survivor, '/db');
        if (found !== undefined) expect(found, `crash at call ${k}, tear ${tear}`).toEqual(META);
        // A leftover temp file does not stop the next attempt.
        await writeMeta(survivor, '/db', META);
        expect(await readMeta(survivor, '/db')).toEqual(META);
      }
    }
  });
});

describe('meta file errors', () => {
  test('a newer meta format version is FORMAT_VERSION_UNSUPPORTED', () => {
    const bytes = encodeMeta(META);
    new DataView(bytes.buffer).setUint16(8, META_FORMAT_VERSION_EVOLVED + 1, true);
    const error = thrown(() => decodeMeta(bytes, PATH));
    expect(error.code).toBe('FORMAT_VERSION_UNSUPPORTED');
    expect(error.message).toContain(PATH);
    expect(error.message).toContain(`version ${META_FORMAT_VERSION_EVOLVED + 1}`);
  });

  test('a newer WAL format version inside the meta file is FORMAT_VERSION_UNSUPPORTED', () => {
    const error = thrown(() => decodeMeta(encodeMeta({ ...META, walFormatVersion: 5 }), PATH));
    expect(error.code).toBe('FORMAT_VERSION_UNSUPPORTED');
    expect(error.message).toContain('version 4');
  });

  test('a damaged payload byte is CORRUPT_WAL naming the file and the checksum offset', () => {
    const bytes = encodeMeta(META);
    bytes[40] ^= 0xff;
    const error = thrown(() => decodeMeta(bytes, PATH));
    expect(error.code).toBe('CORRUPT_WAL');
    expect(error.message).toContain(PATH);
    expect(error.message).toContain('byte offset 14');
  });

  test('a wrong magic is CORRUPT_WAL at offset 0', () => {
    const bytes = encodeMeta(META);
    bytes[0] = 0x58;
    const error = thrown(() => decodeMeta(bytes, PATH));
    expect(error.code).toBe('CORRUPT_WAL');
    expect(error.message).toContain('byte offset 0');
  });

  test('a truncated file is CORRUPT_WAL, never a partial meta', () => {
    const bytes = encodeMeta(META);
    for (const length of [0, 10, 17, 18, bytes.length - 1]) {
      expect(thrown(() => decodeMeta(bytes.subarray(0, length), PATH)).code, `length ${length}`).toBe('CORRUPT_WAL');
    }
  });

  test('a well-checksummed payload of the wrong shape is CORRUPT_WAL', () => {
    const payload = encode({ databaseId: 'not bytes', walFormatVersion: 1, createdAtMs: 0, schema: [] });
    const bytes = new Uint8Array(18 + payload.length);
    bytes.set(encodeMeta(META).subarray(0, 10));
    const view = new DataView(bytes.buffer);
    view.setUint32(10, payload.length, true);
    view.setUint32(14, crc32(payload), true);
    bytes.set(payload, 18);
    expect(thrown(() => decodeMeta(bytes, PATH)).code).toBe('CORRUPT_WAL');
  });
});

describe('meta format 2: schema version and history', () => {
  const EVOLVED: DatabaseMeta = withHistory(META, [
    { version: 1, fromLsn: 1, schema: schemaOf([Position]) },
    { version: 3, fromLsn: 41, schema: schemaOf([Position, Pair]) },
  ]);

  test('a meta that never evolved keeps format 1 bytes; an evolved one is format 2 and round-trips', () => {
    expect(new DataView(encodeMeta(withHistory(META, [{ version: 1, fromLsn: 1, schema: META.schema }])).buffer).getUint16(8, true)).toBe(1);
    const bytes = encodeMeta(EVOLVED);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true)).toBe(META_FORMAT_VERSION_EVOLVED);
    const decoded = decodeMeta(bytes, PATH);
    expect(decoded.schemaVersion).toBe(3);
    expect(historyOf(decoded)).toEqual(historyOf(EVOLVED));
    expect(decoded.schema).toEqual(schemaOf([Position, Pair]));
  });

  test('a format 1 meta has an implicit history: version 1 from LSN 1', () => {
    expect(historyOf(decodeMeta(encodeMeta(META), PATH))).toEqual([{ version: 1, fromLsn: 1, schema: META.schema }]);
  });

  test('the epoch of an LSN is the last one starting at or before it; LSN 0 is the first', () => {
    const history = historyOf(EVOLVED);
    expect([0, 1, 40, 41, 1000].map((lsn) => epochAt(history, lsn).version)).toEqual([1, 1, 1, 3, 3]);
  });

  test.each([
    ['out of order', { ...EVOLVED, schemaHistory: [...historyOf(EVOLVED)].reverse() }],
    ['not ending in the current schema', { ...EVOLVED, schema: schemaOf([Position]) }],
    ['not ending in the current version', { ...EVOLVED, schemaVersion: 2 }],
    ['empty', { ...EVOLVED, schemaHistory: [] }],
  ])('a history %s is CORRUPT_WAL', (_what, meta) => {
    // Framed by hand: encodeMeta would not write these.
    const bytes = encodeFramed('ECSDBMET', META_FORMAT_VERSION_EVOLVED, meta);
    const error = thrown(() => decodeMeta(bytes, PATH));
    expect(error.code).toBe('CORRUPT_WAL');
    expect(error.message).toContain('schema history');
  });
});
