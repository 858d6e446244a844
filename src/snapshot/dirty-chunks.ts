/**
 * Which chunks of the world changed since a snapshot last copied them: what an incremental
 * snapshot writes. One flag per chunk of `chunkSlots` slots for the entity registry and one per
 * chunk per component table. Transactions mark a chunk on the first touch of a slot or cell
 * (before the change); a snapshot clears a chunk's flag in the same synchronous step in which it
 * copies the chunk, so a change made after the copy marks it again for the next snapshot.
 */
export class DirtyChunks {
  private registryFlags: Uint8Array;
  private readonly tableFlags: Uint8Array[];

  constructor(
    readonly chunkSlots: number,
    tableCount: number,
  ) {
    this.registryFlags = new Uint8Array(64);
    this.tableFlags = Array.from({ length: tableCount }, () => new Uint8Array(64));
  }

  markSlot(slot: number): void {
    const chunk = Math.floor(slot / this.chunkSlots);
    if (chunk >= this.registryFlags.length) this.registryFlags = grow(this.registryFlags, chunk + 1);
    this.registryFlags[chunk] = 1;
  }

  markCell(tableIndex: number, slot: number): void {
    const chunk = Math.floor(slot / this.chunkSlots);
    let flags = this.tableFlags[tableIndex];
    if (chunk >= flags.length) flags = this.tableFlags[tableIndex] = grow(flags, chunk + 1);
    flags[chunk] = 1;
  }

  /** Whether the registry chunk changed since it was last taken; clears the flag. */
  takeRegistry(chunk: number): boolean {
    return take(this.registryFlags, chunk);
  }

  /** Whether the table's chunk changed since it was last taken; clears the flag. */
  takeTable(tableIndex: number, chunk: number): boolean {
    return take(this.tableFlags[tableIndex], chunk);
  }
}

function take(flags: Uint8Array, chunk: number): boolean {
  if (chunk >= flags.length || flags[chunk] === 0) return false;
  flags[chunk] = 0;
  return true;
}

function grow(flags: Uint8Array, needed: number): Uint8Array {
  let capacity = flags.length * 2;
  while (capacity < needed) capacity *= 2;
  const grown = new Uint8Array(capacity);
  grown.set(flags);
  return grown;
}
