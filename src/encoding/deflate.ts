/**
 * Raw DEFLATE (RFC 1951) compression off the main thread, for work too large for one step of the
 * game loop: a whole WAL segment as it moves to the archive (up to `wal.segmentSizeBytesMax`,
 * 64 MiB by default). fflate's deflateSync ran it on the main thread at about 15 ms per MiB, a
 * pause of ~0.25 s per 16 MiB segment after every snapshot. node:zlib's deflateRaw runs in
 * libuv's thread pool instead; its stream is the same format, and fflate's inflateSync reads it
 * back as it reads everything ecsdb stores.
 */
import { deflateRaw } from 'node:zlib';

/** Archived WAL segments: zlib's default level (written once, in the background, kept long). */
export const ARCHIVE_DEFLATE_LEVEL = 6;

export function deflateInBackground(bytes: Uint8Array, level: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    deflateRaw(bytes, { level }, (error, deflated) => {
      if (error !== null) reject(error);
      // A plain Uint8Array over the same bytes: callers never see Buffer's own methods.
      else resolve(new Uint8Array(deflated.buffer, deflated.byteOffset, deflated.byteLength));
    });
  });
}
