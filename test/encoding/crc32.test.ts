import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { expect, test } from 'vitest';
import { crc32Range } from '../../src/encoding/crc32.js';

test('crc32Range equals zlib.crc32 for every length and offset, short (table) and long (native)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1100 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
      expect(crc32Range(bytes, start, end)).toBe(crc32(bytes.subarray(start, end)));
    }),
    { numRuns: 2000 },
  );
});

test('crc32Range with the caller\'s DataView reads the range relative to the bytes, not their buffer', () => {
  // Bytes that start 3 bytes into their buffer, so a view over the whole buffer would be off by 3.
  const buffer = new Uint8Array(80).map((_, i) => (i * 151 + 7) & 0xff);
  const bytes = buffer.subarray(3);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let start = 0; start <= bytes.length; start++) {
    for (let end = start; end <= bytes.length; end++) {
      expect(crc32Range(bytes, start, end, view), `range ${start}..${end}`).toBe(crc32(bytes.subarray(start, end)));
    }
  }
});

test('crc32Range of "123456789" is the CRC-32 check value 0xcbf43926', () => {
  expect(crc32Range(new TextEncoder().encode('123456789'), 0, 9)).toBe(0xcbf43926);
});
