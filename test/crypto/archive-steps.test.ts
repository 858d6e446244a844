/**
 * Encrypted archival in main-thread steps (src/crypto/wal-records.ts, cipher.ts): stepping must
 * give exactly the bytes of the one-piece versions, and let the event loop turn between steps.
 */
import { expect, test } from 'vitest';
import { DataCipher } from '../../src/crypto/cipher.js';
import { resealSegment, resealSegmentInSteps } from '../../src/crypto/wal-records.js';
import { RECORD_KIND_WRITE_SET, encodeRecord, encodeSegmentHeader } from '../../src/wal/format.js';
import { countTurns } from '../helpers/event-loop.js';

const KEY = new Uint8Array(32).map((_, i) => 3 * i);
const DATABASE_ID = new Uint8Array(16).map((_, i) => 0x40 + i);
const zeros = (bytes: Buffer) => bytes.fill(0);
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

test('sealInSteps gives the bytes seal gives, at every length around the step, and they open', async () => {
  for (const length of [0, 1, 15, 16, 17, 48, 100]) {
    const plain = new Uint8Array(length).map((_, i) => (i * 31) & 0xff);
    // Two ciphers in the same state: the same nonce goes to both seals.
    const whole = new DataCipher(KEY, DATABASE_ID, zeros).seal(plain, new Uint8Array([1, 2, 3]));
    const stepper = new DataCipher(KEY, DATABASE_ID, zeros);
    let betweens = 0;
    const stepped = await stepper.sealInSteps(plain, new Uint8Array([1, 2, 3]), 16, async () => void betweens++);
    expect(same(stepped, whole), `${length} bytes`).toBe(true);
    expect(betweens, `${length} bytes in steps of 16`).toBe(Math.max(0, Math.ceil(length / 16) - 1));
    expect(same(stepper.open(stepped, new Uint8Array([1, 2, 3]))!, plain)).toBe(true);
  }
});

test('resealSegmentInSteps gives the bytes resealSegment gives, with event-loop turns between its steps', async () => {
  const records: number[] = [];
  for (let lsn = 1; lsn <= 40; lsn++) records.push(...encodeRecord(lsn, RECORD_KIND_WRITE_SET, new Uint8Array(5 + ((lsn * 37) % 90)).fill(lsn)));
  const plain = new Uint8Array([...encodeSegmentHeader(DATABASE_ID, 1), ...records]);
  const cipher = new DataCipher(KEY, DATABASE_ID, zeros);
  const sealed = resealSegment(plain, undefined, cipher, 'steps');
  expect(same(resealSegment(sealed, cipher, undefined, 'steps'), plain), 'the one-piece version opens them').toBe(true);
  for (const stepBytes of [1, 100, 1000, 1 << 20]) {
    const turns = countTurns();
    const opened = await resealSegmentInSteps(sealed, cipher, undefined, 'steps', stepBytes);
    const counted = turns.stop();
    expect(same(opened, plain), `steps of ${stepBytes} bytes`).toBe(true);
    if (stepBytes <= 100) expect(counted, `steps of ${stepBytes} bytes let the loop turn`).toBeGreaterThanOrEqual(10);
  }
});
