/**
 * CRC-32 (the zlib / ISO-HDLC polynomial, identical to `zlib.crc32`) over a byte range.
 * Short ranges, such as a W1 WAL record, are computed here: that avoids a subarray allocation
 * and a native call per record, which cost more than the whole computation below ~500 bytes.
 * Long ranges use Node's native `zlib.crc32`.
 *
 * The table method is "slicing by 16": sixteen tables let one step fold 16 bytes, read as four
 * little-endian 32-bit words, instead of one byte per dependent table lookup. Replay checks
 * every record before it applies it, so this runs a million times a second.
 */
import { crc32 as nativeCrc32 } from 'node:zlib';

/** TABLES[k * 256 + b]: the CRC of byte b followed by k zero bytes. */
const TABLES = new Int32Array(16 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLES[n] = c;
}
for (let n = 0; n < 256; n++) {
  for (let k = 1; k < 16; k++) {
    const previous = TABLES[(k - 1) * 256 + n];
    TABLES[k * 256 + n] = (previous >>> 8) ^ TABLES[previous & 0xff];
  }
}

const NATIVE_THRESHOLD_BYTES = 512;

/**
 * The CRC-32 of `bytes[start, end)`. `view` must be a DataView over the same bytes (offset 0 =
 * bytes[0]); callers that check many ranges pass theirs so that none is made per call.
 */
export function crc32Range(bytes: Uint8Array, start: number, end: number, view?: DataView): number {
  if (end - start >= NATIVE_THRESHOLD_BYTES) return nativeCrc32(bytes.subarray(start, end));
  const words = view ?? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const t = TABLES;
  let crc = -1;
  let i = start;
  for (; i + 16 <= end; i += 16) {
    const a = crc ^ words.getInt32(i, true);
    const b = words.getInt32(i + 4, true);
    const c = words.getInt32(i + 8, true);
    const d = words.getInt32(i + 12, true);
    crc =
      t[0xf00 + (a & 0xff)] ^ t[0xe00 + ((a >>> 8) & 0xff)] ^ t[0xd00 + ((a >>> 16) & 0xff)] ^ t[0xc00 + (a >>> 24)] ^
      t[0xb00 + (b & 0xff)] ^ t[0xa00 + ((b >>> 8) & 0xff)] ^ t[0x900 + ((b >>> 16) & 0xff)] ^ t[0x800 + (b >>> 24)] ^
      t[0x700 + (c & 0xff)] ^ t[0x600 + ((c >>> 8) & 0xff)] ^ t[0x500 + ((c >>> 16) & 0xff)] ^ t[0x400 + (c >>> 24)] ^
      t[0x300 + (d & 0xff)] ^ t[0x200 + ((d >>> 8) & 0xff)] ^ t[0x100 + ((d >>> 16) & 0xff)] ^ t[d >>> 24];
  }
  for (; i + 4 <= end; i += 4) {
    const a = crc ^ words.getInt32(i, true);
    crc = t[0x300 + (a & 0xff)] ^ t[0x200 + ((a >>> 8) & 0xff)] ^ t[0x100 + ((a >>> 16) & 0xff)] ^ t[a >>> 24];
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
