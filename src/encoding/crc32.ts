/**
 * CRC-32 (the zlib / ISO-HDLC polynomial, identical to `zlib.crc32`) over a byte range.
 * Short ranges, such as a W1 WAL record, are computed here with a lookup table: that avoids a
 * subarray allocation and a native call per record, which dominate at ~40 bytes. Long ranges
 * use Node's native `zlib.crc32`.
 */
import { crc32 as nativeCrc32 } from 'node:zlib';

const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

const NATIVE_THRESHOLD_BYTES = 128;

export function crc32Range(bytes: Uint8Array, start: number, end: number): number {
  if (end - start >= NATIVE_THRESHOLD_BYTES) return nativeCrc32(bytes.subarray(start, end));
  let crc = -1;
  for (let i = start; i < end; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
