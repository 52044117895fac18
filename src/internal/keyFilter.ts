/**
 * keyFilter — a Bloom filter over cache keys: `mightContain` is `false` only for a key that was
 * never added (no false negatives), and `true` for an absent key with a small probability (about 1 %
 * at capacity, far less below it). The SQLite cache uses it to skip the point read of a key that
 * is certainly not in its file (see `LlmCacheSqlite`).
 *
 * Cache keys are SHA-256 digests in lowercase hex, already uniformly random: a 64-character key's
 * bit positions are its eight 32-bit chunks, read as hex from the char codes (no slicing, no
 * allocation, and a lookup stops at the first clear bit, usually the first chunk). A character that
 * is not a hex digit reads as some other value: still a function of the key alone, so `add` and
 * `mightContain` agree (such keys only spread less well). Keys of any other length get two
 * FNV-style hashes combined as `h1 + i·h2`.
 */

/** Bits per key at capacity, at least; the size is rounded up to a power of two (10-20 bits). */
const BITS_PER_KEY = 10
/** Bit positions per key: one per 32-bit chunk of a 64-character hex key. */
const PROBES = 8
/** The smallest filter (a 2 KB bit array). */
export const MIN_CAPACITY = 1024
/** The largest bit array: 2^31 bits (256 MB), so a position fits an int32 mask. */
const MAX_BITS = 2 ** 31

/**
 * Eight characters from `start` read as hex digits: `(c & 15) + 9 * (c >> 6)` is a digit's value
 * for '0'-'9' and 'a'-'f', without a branch or a check. (With the stop at the first clear bit, a
 * lookup measured 36 ns, against 520 ns parsing and checking all 64 characters first.)
 */
const chunk = (text: string, start: number): number => {
  let h = 0
  for (let j = start; j < start + 8; j++) {
    const c = text.charCodeAt(j)
    h = (h << 4) | ((c & 15) + 9 * (c >> 6))
  }
  return h
}

/** `chunk` over the character codes in `bytes` (the same value for the same characters). */
const byteChunk = (bytes: Uint8Array, start: number): number => {
  let h = 0
  for (let j = start; j < start + 8; j++) {
    const c = bytes[j]!
    h = (h << 4) | ((c & 15) + 9 * (c >> 6))
  }
  return h
}

/** Two 32-bit hashes of a key that is not 64 characters long. */
const hashes = new Int32Array(2)
const hashOther = (key: string): void => {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193 ^ key.length
  for (let j = 0; j < key.length; j++) {
    const c = key.charCodeAt(j)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995)
    h2 ^= h2 >>> 15
  }
  // murmur3's finaliser: every input bit reaches every output bit.
  h1 ^= h1 >>> 16
  h1 = Math.imul(h1, 0x85ebca6b)
  h1 ^= h1 >>> 13
  h1 = Math.imul(h1, 0xc2b2ae35)
  h1 ^= h1 >>> 16
  hashes[0] = h1
  hashes[1] = h2 | 1
}

export class KeyFilter {
  /** Keys it is sized for; beyond them it still works, with more false positives. */
  readonly capacity: number
  private readonly bits: Uint32Array
  /** Bit count − 1 (a power of two). */
  private readonly mask: number
  private added = 0

  constructor(capacity: number) {
    this.capacity = Math.max(MIN_CAPACITY, Math.ceil(capacity))
    let size = 32
    while (size < this.capacity * BITS_PER_KEY && size < MAX_BITS) size *= 2
    this.bits = new Uint32Array(size / 32)
    this.mask = size - 1
  }

  /** Keys added (a key added twice counts twice). */
  get count(): number {
    return this.added
  }

  add(key: string): void {
    this.probe(key, true)
  }

  /**
   * Adds the keys of 64 ASCII characters whose character codes `keys` holds one after another: all
   * of them, or `max` from offset `from`. Returns the offset after the last one added. (Bytes
   * rather than a string: the writer thread transfers them instead of having them copied.)
   */
  addConcatenated(keys: Uint8Array, from = 0, max = Number.POSITIVE_INFINITY): number {
    const bits = this.bits
    const mask = this.mask
    let start = from
    for (let n = 0; n < max && start + 64 <= keys.length; n++, start += 64) {
      for (let i = 0; i < PROBES; i++) {
        const p = byteChunk(keys, start + i * 8) & mask
        bits[p >>> 5]! |= 1 << (p & 31)
      }
      this.added += 1
    }
    return start
  }

  /** False only if `key` was certainly never added. */
  mightContain(key: string): boolean {
    return this.probe(key, false)
  }

  /** Sets (`add`) or tests the key's bits; a test stops at the first clear one. */
  private probe(key: string, add: boolean): boolean {
    const bits = this.bits
    const mask = this.mask
    const hex = key.length === 64
    if (!hex) hashOther(key)
    for (let i = 0; i < PROBES; i++) {
      const p = (hex ? chunk(key, i * 8) : hashes[0]! + Math.imul(i, hashes[1]!)) & mask
      const bit = 1 << (p & 31)
      if (add) bits[p >>> 5]! |= bit
      else if ((bits[p >>> 5]! & bit) === 0) return false
    }
    if (add) this.added += 1
    return true
  }
}
