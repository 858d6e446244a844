/**
 * Little-endian byte writer and bounds-checked reader shared by the on-disk formats. Every
 * multi-byte value states its endianness explicitly; varints are unsigned LEB128 up to 2^53 - 1.
 *
 * The reader never trusts a length it reads: every read checks the remaining bytes first, and a
 * violation throws a ByteFormatError with the offset, which the format modules turn into their
 * typed corruption errors.
 */
import { endianness } from 'node:os';

/**
 * Whether this machine's typed arrays hold numbers little-endian, as the on-disk formats do: then
 * a typed array's bytes can be copied to or from disk as they are.
 */
export const LITTLE_ENDIAN_HOST = endianness() === 'LE';

/** Zero bytes to compare against; never written to. */
const ZEROS = new Uint8Array(64 * 1024);

/** Whether every byte of `bytes` from `start` to its end is zero (memcmp in 64 KiB steps). */
export function isZeroFrom(bytes: Uint8Array, start: number): boolean {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = start; offset < bytes.length; offset += ZEROS.length) {
    const end = Math.min(bytes.length, offset + ZEROS.length);
    if (buffer.compare(ZEROS, 0, end - offset, offset, end) !== 0) return false;
  }
  return true;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export class ByteFormatError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`${reason} at byte ${offset}`);
    this.name = 'ByteFormatError';
  }
}

export class ByteWriter {
  bytes: Uint8Array;
  view: DataView;
  length = 0;

  constructor(initialCapacity = 256) {
    this.bytes = new Uint8Array(initialCapacity);
    this.view = new DataView(this.bytes.buffer);
  }

  reset(): void {
    this.length = 0;
  }

  /** The written bytes as a fresh copy. */
  toBytes(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  ensure(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const bytes = new Uint8Array(capacity);
    bytes.set(this.bytes.subarray(0, this.length));
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer);
  }

  u8(value: number): void {
    this.ensure(1);
    this.bytes[this.length++] = value;
  }

  varint(value: number): void {
    this.ensure(8);
    const bytes = this.bytes;
    let length = this.length;
    let rest = value;
    // Below 2^32 the unsigned 32-bit operators are exact and much cheaper than % and floor
    // (slot numbers, counts and masks, which is nearly every varint on the commit path).
    if (rest <= 0xffff_ffff) {
      while (rest >= 0x80) {
        bytes[length++] = (rest & 0x7f) | 0x80;
        rest >>>= 7;
      }
    } else {
      while (rest >= 0x80) {
        bytes[length++] = (rest % 0x80) | 0x80;
        rest = Math.floor(rest / 0x80);
      }
    }
    bytes[length++] = rest;
    this.length = length;
  }

  u16(value: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, value, true);
    this.length += 2;
  }

  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  u64(value: number): void {
    this.ensure(8);
    this.view.setBigUint64(this.length, BigInt(value), true);
    this.length += 8;
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** varint byte length, then UTF-8. */
  string(value: string): void {
    this.ensure(8 + value.length * 3);
    const start = this.length;
    // Reserve the longest varint the length can need, then move the text if it was shorter.
    const maxBytes = value.length * 3;
    const prefixBytes = varintSize(maxBytes);
    const { written } = textEncoder.encodeInto(value, this.bytes.subarray(start + prefixBytes));
    const actualPrefix = varintSize(written);
    if (actualPrefix !== prefixBytes) {
      this.bytes.copyWithin(start + actualPrefix, start + prefixBytes, start + prefixBytes + written);
    }
    this.varint(written);
    this.length = start + actualPrefix + written;
  }
}

export function varintSize(value: number): number {
  let size = 1;
  let rest = value;
  while (rest >= 0x80) {
    size++;
    rest = Math.floor(rest / 0x80);
  }
  return size;
}

export class ByteReader {
  readonly view: DataView;
  offset: number;

  constructor(
    readonly bytes: Uint8Array,
    offset = 0,
    public end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  need(count: number, what: string): void {
    if (count > this.end - this.offset) {
      throw new ByteFormatError(this.offset, `${what} needs ${count} bytes but only ${this.end - this.offset} remain`);
    }
  }

  u8(): number {
    this.need(1, 'u8');
    return this.bytes[this.offset++];
  }

  varint(): number {
    // One byte (counts, masks, component indices, small slots) is most varints in a W1 record.
    // This part is kept small so that the compiler inlines it into every caller.
    const start = this.offset;
    if (start < this.end) {
      const first = this.bytes[start];
      if (first < 0x80) {
        this.offset = start + 1;
        return first;
      }
    }
    return this.varintLong();
  }

  private varintLong(): number {
    const start = this.offset;
    const bytes = this.bytes;
    // Up to four bytes (28 bits: every slot) in integer arithmetic, the rest in doubles.
    let value = 0;
    for (let i = 0; i < 4; i++) {
      if (start + i >= this.end) throw new ByteFormatError(start, 'varint runs past the end');
      const byte = bytes[start + i];
      value |= (byte & 0x7f) << (7 * i);
      if (byte < 0x80) {
        this.offset = start + i + 1;
        return value;
      }
    }
    let scale = 2 ** 28;
    for (let i = 4; i < 8; i++) {
      if (start + i >= this.end) throw new ByteFormatError(start, 'varint runs past the end');
      const byte = bytes[start + i];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (value > Number.MAX_SAFE_INTEGER) throw new ByteFormatError(start, 'varint exceeds 2^53');
        this.offset = start + i + 1;
        return value;
      }
      scale *= 0x80;
    }
    throw new ByteFormatError(start, 'varint longer than 8 bytes');
  }

  u16(): number {
    this.need(2, 'u16');
    const value = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return value;
  }

  u32(): number {
    this.need(4, 'u32');
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  u64(): number {
    this.need(8, 'u64');
    const value = this.view.getBigUint64(this.offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ByteFormatError(this.offset, 'u64 exceeds 2^53');
    this.offset += 8;
    return Number(value);
  }

  raw(count: number): Uint8Array {
    this.need(count, 'byte range');
    const bytes = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return bytes;
  }

  string(): string {
    const start = this.offset;
    const length = this.varint();
    this.need(length, 'string');
    try {
      return textDecoder.decode(this.raw(length));
    } catch {
      throw new ByteFormatError(start, 'string is not valid UTF-8');
    }
  }
}
