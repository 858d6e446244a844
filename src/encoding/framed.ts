/**
 * The framing of ecsdb's small self-describing files (the meta file, the snapshot manifest):
 *
 *   offset size field
 *   0      8    magic (ASCII, per file type)
 *   8      2    format version
 *   10     4    payload length in bytes
 *   14     4    CRC-32 of the payload
 *   18     n    payload: one MessagePack value
 *
 * Decoding checks magic, version, length and checksum before it parses anything.
 */
import { decode, encode } from '@msgpack/msgpack';
import { crc32 } from 'node:zlib';

export const FRAME_HEADER_SIZE_BYTES = 8 + 2 + 4 + 4;
/** Where the version lies: it is under no checksum, so a damaged one reads as another version. */
export const FRAME_VERSION_OFFSET = 8;
const FRAME_PAYLOAD_SIZE_BYTES_MAX = 64 * 1024 * 1024;

export function encodeFramed(magic: string, version: number, value: unknown): Uint8Array {
  const payload = encode(value);
  const bytes = new Uint8Array(FRAME_HEADER_SIZE_BYTES + payload.length);
  const view = new DataView(bytes.buffer);
  bytes.set(Buffer.from(magic, 'latin1'), 0);
  view.setUint16(8, version, true);
  view.setUint32(10, payload.length, true);
  view.setUint32(14, crc32(payload), true);
  bytes.set(payload, FRAME_HEADER_SIZE_BYTES);
  return bytes;
}

export type FramedResult = { ok: true; version: number; value: unknown } | { ok: false; offset: number; problem: string };

/** Decodes a framed file. A version other than `version` is returned for the caller to judge. */
export function decodeFramed(bytes: Uint8Array, magic: string): FramedResult {
  if (bytes.length < FRAME_HEADER_SIZE_BYTES) return { ok: false, offset: bytes.length, problem: 'file is shorter than its header' };
  if (!Buffer.from(magic, 'latin1').equals(bytes.subarray(0, 8))) return { ok: false, offset: 0, problem: `not a ${magic} file (wrong magic)` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  const length = view.getUint32(10, true);
  if (length > FRAME_PAYLOAD_SIZE_BYTES_MAX || FRAME_HEADER_SIZE_BYTES + length !== bytes.length) {
    return { ok: false, offset: 10, problem: `payload length ${length} does not match the file size ${bytes.length}` };
  }
  const payload = bytes.subarray(FRAME_HEADER_SIZE_BYTES);
  if (view.getUint32(14, true) !== crc32(payload)) return { ok: false, offset: 14, problem: 'checksum mismatch' };
  try {
    return { ok: true, version, value: decode(payload) };
  } catch (error) {
    return { ok: false, offset: FRAME_HEADER_SIZE_BYTES, problem: `payload is not MessagePack (${(error as Error).message})` };
  }
}
