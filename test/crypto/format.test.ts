/**
 * Golden bytes of the encrypted formats (src/crypto/format.ts): a sealed WAL record, a sealed
 * unit's AAD layouts, and the key check value. If one of these changes, encrypted directories
 * written before can no longer be read: the format version must change with it.
 */
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { DataCipher } from '../../src/crypto/cipher.js';
import { createEncryption, unlock } from '../../src/crypto/keys.js';
import { RECORD_KIND_SEALED_WRITE_SET, SEAL_OVERHEAD_BYTES } from '../../src/crypto/format.js';
import { openRecordPayload, resealSegment } from '../../src/crypto/wal-records.js';
import { encodeRecord, encodeSegmentHeader, RECORD_HEADER_SIZE_BYTES, RECORD_KIND_WRITE_SET, SEGMENT_HEADER_SIZE_BYTES } from '../../src/wal/format.js';

const KEY = new Uint8Array(32).map((_, i) => i);
const DATABASE_ID = new Uint8Array(16).map((_, i) => 0xa0 + i);
const zeros = (bytes: Buffer) => bytes.fill(0);

describe('a sealed WAL record', () => {
  test('has kind 3, the nonce (prefix + counter), the ciphertext and the tag, pinned to golden bytes', () => {
    const cipher = new DataCipher(KEY, DATABASE_ID, zeros);
    const plainSegment = new Uint8Array([...encodeSegmentHeader(DATABASE_ID, 7), ...encodeRecord(7, RECORD_KIND_WRITE_SET, new Uint8Array([1, 2, 3, 4, 5]))]);
    const sealed = resealSegment(plainSegment, undefined, cipher, 'golden');
    const record = sealed.subarray(SEGMENT_HEADER_SIZE_BYTES);
    expect(record.length).toBe(RECORD_HEADER_SIZE_BYTES + 5 + SEAL_OVERHEAD_BYTES);
    expect(record[16]).toBe(RECORD_KIND_SEALED_WRITE_SET);
    expect(Buffer.from(record.subarray(RECORD_HEADER_SIZE_BYTES, RECORD_HEADER_SIZE_BYTES + 12)).toString('hex')).toBe('000000000000000000000000');
    expect(Buffer.from(record).toString('hex')).toBe(GOLDEN_RECORD);
    const payload = openRecordPayload(record, RECORD_HEADER_SIZE_BYTES, record.length, 7, cipher, 'golden');
    expect([...payload]).toEqual([1, 2, 3, 4, 5]);
  });

  test('the next record under the same cipher gets the next nonce, never the same', () => {
    const cipher = new DataCipher(KEY, DATABASE_ID, zeros);
    const a = cipher.seal(new Uint8Array(4), cipher.walRecordAad(1));
    const b = cipher.seal(new Uint8Array(4), cipher.walRecordAad(1));
    expect(Buffer.from(a.subarray(0, 12)).toString('hex')).toBe('000000000000000000000000');
    expect(Buffer.from(b.subarray(0, 12)).toString('hex')).toBe('000000000000000001000000');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });
});

test('the AAD layouts: unit kind, database id, then the place of the unit', () => {
  const cipher = new DataCipher(KEY, DATABASE_ID, zeros);
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  const id = hex(DATABASE_ID);
  expect(hex(cipher.walRecordAad(0x0102030405))).toBe(`01${id}0504030201000000`);
  expect(hex(cipher.archiveAad(9))).toBe(`03${id}0900000000000000`);
  expect(hex(cipher.metaSchemaAad(1))).toBe(`04${id}0100000000000000`);
  const sectionHeader = new Uint8Array(32).map((_, i) => i);
  const section = cipher.snapshotSectionAad({ startLsn: 2, createdAtMs: 3, flags: 3 }, 4, sectionHeader, 5);
  expect(hex(section)).toBe(`02${id}020000000000000003000000000000000300${'04000000'}${hex(sectionHeader.subarray(8))}0500000000000000`);
});

test('the key check value: HKDF-SHA256 of the key over the database id, 16 bytes, pinned', async () => {
  const { stored } = await createEncryption({ kind: 'key', text: Buffer.from(KEY).toString('hex'), origin: 'test' }, DATABASE_ID);
  expect(stored.kdf).toBe('raw');
  expect(createHash('sha256').update(stored.keyCheck).digest('hex').slice(0, 16)).toBe(GOLDEN_KEY_CHECK_HASH);
  await expect(unlock(stored, { kind: 'key', text: Buffer.from(KEY.map((b) => b ^ 1)).toString('hex'), origin: 'test' }, DATABASE_ID, 'dir')).rejects.toMatchObject({ code: 'KEY_INVALID' });
});

const GOLDEN_RECORD = '210000000fc9b89e0700000000000000030000000000000000000000000fbeb6dab01872a928b6ef2918d82afa0266fe297e';
const GOLDEN_KEY_CHECK_HASH = 'c892ca2aaaf425b6';
