import { describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { KeyFilter, MIN_CAPACITY } from "../src/internal/keyFilter.js"

const hexKeys = (n: number) => Array.from({ length: n }, () => randomBytes(32).toString("hex"))

/** Share of `absent` keys the filter wrongly says it might contain. */
const falsePositiveRate = (filter: KeyFilter, absent: ReadonlyArray<string>) =>
  absent.filter((key) => filter.mightContain(key)).length / absent.length

describe("KeyFilter", () => {
  it("has no false negatives over 50,000 hex keys", () => {
    const keys = hexKeys(50_000)
    const filter = new KeyFilter(keys.length)
    for (const key of keys) filter.add(key)
    expect(keys.every((key) => filter.mightContain(key))).toBe(true)
    expect(filter.count).toBe(50_000)
  })

  it("has no false negatives for other keys (any length, upper case, not hex)", () => {
    const keys = [
      "",
      "k1",
      "key-12345",
      "x".repeat(64),
      randomBytes(32).toString("hex").toUpperCase(),
      `${randomBytes(32).toString("hex").slice(0, 63)}g`,
      randomBytes(40).toString("hex"),
      "ünïcödé ✓",
      ...Array.from({ length: 20_000 }, (_, i) => `prompt ${i}`)
    ]
    const filter = new KeyFilter(keys.length)
    for (const key of keys) filter.add(key)
    expect(keys.filter((key) => !filter.mightContain(key))).toEqual([])
  })

  it("keeps false positives below 1.5 % at capacity (hex and other keys)", () => {
    const capacity = 50_000
    const hex = new KeyFilter(capacity)
    for (const key of hexKeys(capacity)) hex.add(key)
    expect(falsePositiveRate(hex, hexKeys(100_000))).toBeLessThan(0.015)

    const other = new KeyFilter(capacity)
    for (let i = 0; i < capacity; i++) other.add(`present ${i}`)
    const absent = Array.from({ length: 100_000 }, (_, i) => `absent ${i}`)
    expect(falsePositiveRate(other, absent)).toBeLessThan(0.015)
  })

  it("an empty or lightly filled filter rules out almost every key", () => {
    const filter = new KeyFilter(0)
    expect(filter.capacity).toBe(MIN_CAPACITY)
    expect(falsePositiveRate(filter, hexKeys(1_000))).toBe(0)
    for (const key of hexKeys(10)) filter.add(key)
    expect(falsePositiveRate(filter, hexKeys(10_000))).toBeLessThan(0.001)
  })

  it("keys added as one run of ASCII bytes are the same keys as added one by one", () => {
    // (Any 64 ASCII characters, as the writer sends them, not only hex digits.)
    const keys = [...hexKeys(998), "p".repeat(64), "ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz_0123456789"]
    const filter = new KeyFilter(keys.length)
    const joined = new TextEncoder().encode(keys.join(""))
    // In pieces, as the cache adds them (a share per event-loop turn).
    let offset = 0
    for (let i = 0; i < 3; i++) offset = filter.addConcatenated(joined, offset, 300)
    expect(offset).toBe(900 * 64)
    expect(filter.addConcatenated(joined, offset)).toBe(joined.length)
    expect(filter.count).toBe(1_000)
    expect(keys.every((key) => filter.mightContain(key))).toBe(true)
    // ... and nothing else.
    expect(falsePositiveRate(filter, hexKeys(10_000))).toBeLessThan(0.015)
  })
})
