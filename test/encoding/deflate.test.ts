/**
 * Off-main-thread compression (src/encoding/deflate.ts): what it writes, fflate reads back
 * exactly, and the event loop keeps turning while it runs.
 */
import { inflateSync } from 'fflate';
import { expect, test } from 'vitest';
import { ARCHIVE_DEFLATE_LEVEL, deflateInBackground } from '../../src/encoding/deflate.js';
import { countTurns } from '../helpers/event-loop.js';

/** Bytes like a WAL segment's: repetitive structure with changing numbers (compressible, not trivially). */
function segmentLikeBytes(sizeBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  const view = new DataView(bytes.buffer);
  let state = seed;
  for (let offset = 0; offset + 4 <= sizeBytes; offset += 4) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    view.setUint32(offset, offset % 64 < 16 ? offset : state & 0xff_ff, true);
  }
  return bytes;
}

/** Byte equality without toEqual, which walks a typed array key by key (minutes for megabytes). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test('fflate inflates what it writes back to the same bytes, at every size', async () => {
  for (const sizeBytes of [0, 1, 100, 65_536, 3 * 1024 * 1024 + 7]) {
    const bytes = segmentLikeBytes(sizeBytes, sizeBytes);
    const deflated = await deflateInBackground(bytes, ARCHIVE_DEFLATE_LEVEL);
    expect(deflated.constructor, 'a plain Uint8Array, not a Buffer').toBe(Uint8Array);
    if (sizeBytes >= 65_536) expect(deflated.length, `${sizeBytes} bytes compress`).toBeLessThan(sizeBytes);
    expect(sameBytes(inflateSync(deflated), bytes), `${sizeBytes} bytes`).toBe(true);
  }
});

test('the event loop turns while a large input is compressed (the work is not on the main thread)', async () => {
  const bytes = segmentLikeBytes(16 * 1024 * 1024, 7);
  const turns = countTurns();
  const deflated = await deflateInBackground(bytes, ARCHIVE_DEFLATE_LEVEL);
  const counted = turns.stop();
  // Compressing 16 MiB takes tens of milliseconds at least; an event-loop turn takes microseconds.
  // A compressor on the main thread would let none run before it finished.
  expect(counted).toBeGreaterThan(0);
  expect(sameBytes(inflateSync(deflated), bytes)).toBe(true);
});
