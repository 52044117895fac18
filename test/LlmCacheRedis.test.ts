import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, Redacted } from "effect"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll } from "vitest"
import * as LlmCacheRedis from "../src/layers/LlmCacheRedis.js"
import { entryBytes } from "../src/services/LlmCache.js"
import { captureLogs } from "./support/logs.js"


describe("LlmCache Redis backend without a reachable server", () => {
  it.live("starts bypassed: lookups miss, writes are dropped, one warning without the URL's password", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const c = yield* LlmCacheRedis.make({
        url: Redacted.make("redis://cacheuser:s3cret-pass@127.0.0.1:1/0"),
        ttl: "1 hour",
        prefix: `effect-agents-test:dead:${randomUUID()}:`
      })
      for (let i = 0; i < 20; i++) {
        yield* c.set("k", "v")
        expect(yield* c.get("k")).toEqual(Option.none())
      }
      const warnings = logs.lines.filter((l) => l.level === "WARN")
      expect(warnings.map((w) => w.text)).toEqual(["Redis at 127.0.0.1:1 unreachable: cache bypassed until it is back"])
      expect(warnings[0]?.annotations).toMatchObject({ backend: "redis" })
      expect(String(warnings[0]?.annotations["reason"])).toContain("127.0.0.1:1")
      // Asked for by a person, stats say why they are empty.
      expect((yield* c.stats).entries).toBe(0)
      expect(String(logs.lines.at(-1)?.annotations["reason"])).toContain("unreachable")
      expect(JSON.stringify(logs.lines)).not.toContain("s3cret-pass")
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })
})

const redisUrl = process.env["REDIS_URL"]

describe.runIf(redisUrl)("LlmCache Redis backend", () => {
  const url = Redacted.make(redisUrl ?? "")
  const run = `effect-agents-test:${process.pid}:${randomUUID()}:`
  let raw: Redis

  beforeAll(async () => {
    // REDIS_URL is set, so Redis must be there: fail loudly rather than skip.
    raw = new Redis(redisUrl!, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0 })
    raw.on("error", () => {})
    await raw.connect()
    expect(await raw.ping()).toBe("PONG")
  })
  afterAll(async () => {
    if (raw === undefined) return
    const keys = await raw.keys(`${run}*`)
    if (keys.length > 0) await raw.del(...keys)
    raw.disconnect()
  })

  let n = 0
  const freshPrefix = () => `${run}${++n}:`
  const open = (prefix: string, ttl: Duration.DurationInput = "1 hour") => LlmCacheRedis.make({ url, ttl, prefix })

  it.live("returns a stored value and misses an unknown key", () =>
    Effect.gen(function*() {
      const c = yield* open(freshPrefix())
      yield* c.set("k1", `{"text":"hello"}`)
      expect(yield* c.get("k1")).toEqual(Option.some(`{"text":"hello"}`))
      expect(yield* c.get("k2")).toEqual(Option.none())
    }).pipe(Effect.scoped))

  it.live("writes entries under the prefix with the TTL as expiry", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const c = yield* open(prefix, "90 seconds")
      yield* c.set("k", "v")
      const pttl = yield* Effect.promise(() => raw.pttl(`${prefix}k`))
      expect(pttl).toBeGreaterThan(85_000)
      expect(pttl).toBeLessThanOrEqual(90_000)
    }).pipe(Effect.scoped))

  it.live("an expired entry is a miss", () =>
    Effect.gen(function*() {
      const c = yield* open(freshPrefix(), "150 millis")
      yield* c.set("k", "v")
      expect(yield* c.get("k")).toEqual(Option.some("v"))
      yield* Effect.sleep("300 millis")
      expect(yield* c.get("k")).toEqual(Option.none())
    }).pipe(Effect.scoped))

  it.live("entries are shared by every client of the same prefix", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const writer = yield* open(prefix)
      const reader = yield* open(prefix)
      yield* writer.set("k", "shared")
      expect(yield* reader.get("k")).toEqual(Option.some("shared"))
    }).pipe(Effect.scoped))

  it.live("stats counts entries, bytes, hits and misses of its prefix only", () =>
    Effect.gen(function*() {
      const c = yield* open(freshPrefix())
      const other = yield* open(freshPrefix())
      yield* other.set("unrelated", "x".repeat(50))
      yield* c.set("a", "one")
      yield* c.set("bb", "two22")
      yield* c.get("a")
      yield* c.get("a")
      yield* c.get("nope")
      expect(yield* c.stats).toEqual({
        backend: "redis",
        entries: 2,
        bytes: entryBytes("a", "one") + entryBytes("bb", "two22"),
        hits: 2,
        misses: 1
      })
    }).pipe(Effect.scoped))

  it.live("clear deletes only its own prefix", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const c = yield* open(prefix)
      const neighbour = yield* open(`${prefix.slice(0, -1)}x:`)
      yield* c.set("a", "1")
      yield* c.set("b", "2")
      yield* neighbour.set("a", "kept")
      const foreign = `${run}foreign`
      yield* Effect.promise(() => raw.set(foreign, "untouched"))
      yield* c.clear
      expect(yield* c.get("a")).toEqual(Option.none())
      expect((yield* c.stats).entries).toBe(0)
      expect(yield* neighbour.get("a")).toEqual(Option.some("kept"))
      expect(yield* Effect.promise(() => raw.get(foreign))).toBe("untouched")
    }).pipe(Effect.scoped))

  it.live("a prefix with glob characters is matched literally", () =>
    Effect.gen(function*() {
      const prefix = `${freshPrefix()}[*]?`
      const c = yield* open(prefix)
      const lookalike = yield* open(`${prefix.slice(0, -4)}x*]?`)
      yield* c.set("a", "1")
      yield* lookalike.set("a", "2")
      yield* c.clear
      expect(yield* lookalike.get("a")).toEqual(Option.some("2"))
    }).pipe(Effect.scoped))

  it.live("an error Redis answers with is a logged miss; the cache stays in use", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const prefix = freshPrefix()
      const c = yield* open(prefix)
      yield* Effect.promise(() => raw.hset(`${prefix}wrong`, "field", "a hash, not a string"))
      expect(yield* c.get("wrong")).toEqual(Option.none())
      yield* c.set("k", "v")
      expect(yield* c.get("k")).toEqual(Option.some("v"))
      const warnings = logs.lines.filter((l) => l.level === "WARN")
      expect(warnings.map((w) => w.text)).toEqual(["LLM cache backend failed; continuing without the cache"])
      expect(String(warnings[0]?.annotations["reason"])).toContain("WRONGTYPE")
    }).pipe(Effect.scoped, Effect.provide(logs.layer))
  })

  it.live("delete removes one entry", () =>
    Effect.gen(function*() {
      const c = yield* open(freshPrefix())
      yield* c.set("a", "1")
      yield* c.set("b", "2")
      yield* c.delete("a")
      expect(yield* c.get("a")).toEqual(Option.none())
      expect(yield* c.get("b")).toEqual(Option.some("2"))
    }).pipe(Effect.scoped))
})
