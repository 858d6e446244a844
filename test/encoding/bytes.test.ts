import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteFormatError, ByteReader, ByteWriter } from '../../src/encoding/bytes.js';

function encodeVarint(value: number): Uint8Array {
  const writer = new ByteWriter();
  writer.varint(value);
  return writer.toBytes();
}

describe('ByteReader#varint()', () => {
  it('reads back every length from 1 to 8 bytes, at the edges of each', () => {
    const values = [0, 1, 0x7f, 0x80, 2 ** 14 - 1, 2 ** 14, 2 ** 21 - 1, 2 ** 21, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 42, 2 ** 49, Number.MAX_SAFE_INTEGER];
    for (const value of values) {
      const bytes = encodeVarint(value);
      const reader = new ByteReader(Uint8Array.from([...bytes, 0x55]));
      expect(reader.varint(), `value ${value}`).toBe(value);
      expect(reader.offset, `value ${value}`).toBe(bytes.length);
    }
  });

  it('reads back any safe integer', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (value) => {
        expect(new ByteReader(encodeVarint(value)).varint()).toBe(value);
      }),
    );
  });

  it('stops at the reader\'s end, not the end of its bytes', () => {
    const bytes = Uint8Array.from([0x80, 0x80, 0x01]);
    const error = catchError(() => new ByteReader(bytes, 0, 2).varint());
    expect(error.reason).toBe('varint runs past the end');
    expect(error.offset).toBe(0);
  });

  it.each([
    ['runs past the end', [0x80], 'varint runs past the end'],
    ['runs past the end after four bytes', [0xff, 0xff, 0xff, 0xff, 0x80], 'varint runs past the end'],
    ['is longer than 8 bytes', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], 'varint longer than 8 bytes'],
    ['exceeds 2^53', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], 'varint exceeds 2^53'],
  ])('fails at the varint\'s start when it %s', (_label, bytes, reason) => {
    const error = catchError(() => new ByteReader(Uint8Array.from([0x00, ...bytes]), 1).varint());
    expect(error.reason).toBe(reason);
    expect(error.offset).toBe(1);
  });
});

function catchError(fn: () => unknown): ByteFormatError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ByteFormatError) return error;
    throw error;
  }
  throw new Error('expected a ByteFormatError');
}
