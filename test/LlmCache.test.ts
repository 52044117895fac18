import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Metric, Option, TestClock } from "effect"
import { createHash } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import * as LlmCacheFromConfig from "../src/layers/LlmCacheFromConfig.js"
import * as LlmCacheMemory from "../src/layers/LlmCacheMemory.js"
import {
  CacheBackendError,
  cacheKey,
  type CacheKeyInput,
  type CacheStore,
  canonicalJson,
  entryBytes,
  fromStore,
  LlmCache
} from "../src/services/LlmCache.js"
import * as LlmCacheModule from "../src/services/LlmCache.js"
import { llmCacheHitsTotal, llmCacheMissesTotal } from "../src/services/Metrics.js"
import { AppConfig } from "../src/services/AppConfig.js"
import { testConfig, testConfigLayer } from "./support/config.js"
import { captureLogs } from "./support/logs.js"


const base: CacheKeyInput = {
  provider: "openrouter",
  model: "openai/gpt-4o-mini",
  settings: { temperature: 0.2, maxTokens: 256, topP: 1 },
  prompt: [
    { role: "system", content: "You are terse." },
    { role: "user", content: [{ type: "text", text: "Summarise effect systems." }] }
  ],
  tools: [{
    name: "search",
    description: "Search the web",
    parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] }
  }],
  responseSchema: { type: "object", properties: { summary: { type: "string" } } }
}

describe("cacheKey", () => {
  it("is a stable hex SHA-256", () => {
    const key = cacheKey(base)
    expect(key).toMatch(/^[0-9a-f]{64}$/)
    expect(cacheKey(structuredClone(base))).toBe(key)
  })

  it("is the SHA-256 of the canonical JSON of the whole request, so existing cache files keep hitting", () => {
    const whole = {
      v: 1,
      provider: base.provider,
      model: base.model,
      settings: base.settings ?? {},
      prompt: base.prompt,
      tools: (base.tools ?? []).map((t) => ({ name: t.name, description: t.description, parameters: t.parameters })),
      responseSchema: base.responseSchema
    }
    expect(cacheKey(base)).toBe(createHash("sha256").update(canonicalJson(whole)).digest("hex"))
    // The same schema object again: the per-object memo must give the same key.
    expect(cacheKey({ ...base })).toBe(cacheKey(base))
    const bare: CacheKeyInput = { provider: "openai", model: "m", prompt: "hi" }
    expect(cacheKey(bare)).toBe(
      createHash("sha256").update(canonicalJson({ v: 1, provider: "openai", model: "m", settings: {}, prompt: "hi", tools: [] }))
        .digest("hex")
    )
  })

  it("does not depend on the order of keys in objects", () => {
    const reordered: CacheKeyInput = {
      responseSchema: { properties: { summary: { type: "string" } }, type: "object" },
      tools: [{
        parameters: { required: ["q"], properties: { q: { type: "string" } }, type: "object" },
        description: "Search the web",
        name: "search"
      }],
      prompt: [
        { content: "You are terse.", role: "system" },
        { content: [{ text: "Summarise effect systems.", type: "text" }], role: "user" }
      ],
      settings: { topP: 1, maxTokens: 256, temperature: 0.2 },
      model: "openai/gpt-4o-mini",
      provider: "openrouter"
    }
    expect(cacheKey(reordered)).toBe(cacheKey(base))
  })

  const variants: ReadonlyArray<readonly [string, CacheKeyInput]> = [
    ["provider", { ...base, provider: "openai" }],
    ["model", { ...base, model: "openai/gpt-4o" }],
    ["temperature", { ...base, settings: { ...base.settings, temperature: 0.3 } }],
    ["maxTokens", { ...base, settings: { ...base.settings, maxTokens: 257 } }],
    ["topP", { ...base, settings: { ...base.settings, topP: 0.9 } }],
    ["an extra setting", { ...base, settings: { ...base.settings, seed: 7 } }],
    ["prompt text", {
      ...base,
      prompt: [{ role: "system", content: "You are terse." }, { role: "user", content: "Summarise effect systems!" }]
    }],
    ["prompt message order", {
      ...base,
      prompt: [...(base.prompt as ReadonlyArray<unknown>)].reverse()
    }],
    ["tool name", { ...base, tools: [{ ...base.tools![0]!, name: "lookup" }] }],
    ["tool description", { ...base, tools: [{ ...base.tools![0]!, description: "Search the intranet" }] }],
    ["tool parameters", {
      ...base,
      tools: [{ ...base.tools![0]!, parameters: { type: "object", properties: { q: { type: "number" } } } }]
    }],
    ["no tools", { ...base, tools: [] }],
    ["response schema", { ...base, responseSchema: { type: "object", properties: { title: { type: "string" } } } }],
    ["no response schema", { ...base, responseSchema: undefined }]
  ]
  for (const [field, variant] of variants) {
    it(`changes when the ${field} changes`, () => {
      expect(cacheKey(variant)).not.toBe(cacheKey(base))
    })
  }

  it("treats absent and undefined optional fields alike", () => {
    const { responseSchema: _, tools: __, settings: ___, ...bare } = base
    expect(cacheKey({ ...bare, responseSchema: undefined, tools: undefined, settings: undefined })).toBe(cacheKey(bare))
    expect(cacheKey({ ...bare, settings: { temperature: undefined } })).toBe(cacheKey(bare))
  })

  it("keeps arrays in order and sorts object keys in canonical JSON", () => {
    expect(canonicalJson({ b: [2, 1], a: { d: 1, c: null } })).toBe(`{"a":{"c":null,"d":1},"b":[2,1]}`)
  })
})

describe("LlmCache memory backend", () => {
  const cache = (sizeLimitBytes = 1_000_000, ttl: Duration.DurationInput = "60 seconds") =>
    LlmCacheMemory.make({ ttl, sizeLimitBytes })

  it.effect("returns a stored value and misses an unknown key", () =>
    Effect.gen(function*() {
      const c = yield* cache()
      yield* c.set("k1", "response one")
      expect(yield* c.get("k1")).toEqual(Option.some("response one"))
      expect(yield* c.get("k2")).toEqual(Option.none())
    }))

  it.effect("expires entries after the TTL", () =>
    Effect.gen(function*() {
      const c = yield* cache(1_000_000, "60 seconds")
      yield* c.set("k", "v")
      yield* TestClock.adjust("59 seconds")
      expect(yield* c.get("k")).toEqual(Option.some("v"))
      yield* TestClock.adjust("1 second")
      expect(yield* c.get("k")).toEqual(Option.none())
      expect((yield* c.stats).entries).toBe(0)
    }))

  it.effect("evicts the least recently used entries to stay within the size limit", () =>
    Effect.gen(function*() {
      // Each entry is 2 + 8 = 10 bytes; the limit holds three.
      const c = yield* cache(30)
      yield* c.set("k1", "value-01")
      yield* c.set("k2", "value-02")
      yield* c.set("k3", "value-03")
      yield* c.get("k1") // k1 is now more recent than k2
      yield* c.set("k4", "value-04")
      expect(yield* c.get("k2")).toEqual(Option.none())
      expect(yield* c.get("k1")).toEqual(Option.some("value-01"))
      expect(yield* c.get("k3")).toEqual(Option.some("value-03"))
      expect(yield* c.get("k4")).toEqual(Option.some("value-04"))
      const stats = yield* c.stats
      expect(stats.bytes).toBe(30)
      expect(stats.entries).toBe(3)
    }))

  it.effect("counts bytes as UTF-8 of key plus value", () =>
    Effect.gen(function*() {
      const c = yield* cache()
      yield* c.set("clé", "réponse ✓")
      expect((yield* c.stats).bytes).toBe(entryBytes("clé", "réponse ✓"))
      expect(entryBytes("clé", "réponse ✓")).toBe(4 + 12)
    }))

  it.effect("does not store an entry larger than the whole cache", () =>
    Effect.gen(function*() {
      const c = yield* cache(20)
      yield* c.set("small", "x")
      yield* c.set("big", "x".repeat(100))
      expect(yield* c.get("big")).toEqual(Option.none())
      expect(yield* c.get("small")).toEqual(Option.some("x"))
    }))

  it.effect("replacing a value updates the size", () =>
    Effect.gen(function*() {
      const c = yield* cache()
      yield* c.set("k", "short")
      yield* c.set("k", "a longer value")
      expect(yield* c.get("k")).toEqual(Option.some("a longer value"))
      expect(yield* c.stats).toMatchObject({ entries: 1, bytes: entryBytes("k", "a longer value") })
    }))

  it.effect("reports entries, bytes, hits and misses; clear empties it and resets the counts", () =>
    Effect.gen(function*() {
      const c = yield* cache()
      yield* c.set("a", "1")
      yield* c.set("b", "22")
      yield* c.get("a")
      yield* c.get("a")
      yield* c.get("zzz")
      expect(yield* c.stats).toEqual({ backend: "memory", entries: 2, bytes: 5, hits: 2, misses: 1 })
      yield* c.clear
      expect(yield* c.stats).toEqual({ backend: "memory", entries: 0, bytes: 0, hits: 0, misses: 0 })
      expect(yield* c.get("a")).toEqual(Option.none())
    }))

  it.effect("delete removes one entry", () =>
    Effect.gen(function*() {
      const c = yield* cache()
      yield* c.set("a", "1")
      yield* c.set("b", "2")
      yield* c.delete("a")
      expect(yield* c.get("a")).toEqual(Option.none())
      expect(yield* c.get("b")).toEqual(Option.some("2"))
    }))

  it.effect("increments llm_cache_hits_total and llm_cache_misses_total on lookups", () =>
    Effect.gen(function*() {
      const c = yield* cache()
      const hitsBefore = (yield* Metric.value(llmCacheHitsTotal)).count
      const missesBefore = (yield* Metric.value(llmCacheMissesTotal)).count
      yield* c.set("k", "v")
      yield* c.get("k")
      yield* c.get("k")
      yield* c.get("nope")
      expect((yield* Metric.value(llmCacheHitsTotal)).count - hitsBefore).toBe(2)
      expect((yield* Metric.value(llmCacheMissesTotal)).count - missesBefore).toBe(1)
    }))

  it.effect("the accessors reach the service in the context", () =>
    Effect.gen(function*() {
      yield* LlmCacheModule.set("k", "v")
      expect(yield* LlmCacheModule.get("k")).toEqual(Option.some("v"))
      yield* LlmCacheModule.remove("k")
      expect(yield* LlmCacheModule.get("k")).toEqual(Option.none())
      expect((yield* LlmCacheModule.stats).backend).toBe("memory")
      yield* LlmCacheModule.clear
    }).pipe(Effect.provide(LlmCacheMemory.layer.pipe(Layer.provide(testConfigLayer({ CACHE_BACKEND: "memory" }))))))
})

describe("a faulty backend", () => {
  const boom = (operation: string) =>
    new CacheBackendError({ backend: "test", operation, reason: "disk on fire" })
  const broken: CacheStore = {
    backend: "test",
    get: () => Effect.fail(boom("get")),
    set: () => Effect.fail(boom("set")),
    delete: () => Effect.fail(boom("delete")),
    stats: Effect.fail(boom("stats")),
    clear: Effect.fail(boom("clear"))
  }

  it.effect("answers get with a miss and logs a warning naming the backend and reason", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const c = fromStore(broken)
      expect(yield* c.get("k")).toEqual(Option.none())
      const warning = logs.lines.find((l) => l.level === "WARN")
      expect(warning?.annotations).toMatchObject({ backend: "test", operation: "get", reason: "disk on fire" })
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("never fails set, delete, stats or clear", () =>
    Effect.gen(function*() {
      const c = fromStore(broken)
      yield* c.set("k", "v")
      yield* c.delete("k")
      yield* c.clear
      yield* c.get("k")
      expect(yield* c.stats).toEqual({ backend: "test", entries: 0, bytes: 0, hits: 0, misses: 1 })
    }))

  it.effect("logs a persisting fault once per 30 seconds, not on every call", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const c = fromStore(broken)
      for (let i = 0; i < 5; i++) yield* c.get("k")
      expect(logs.lines.filter((l) => l.level === "WARN")).toHaveLength(1)
      yield* TestClock.adjust("30 seconds")
      yield* c.get("k")
      const warnings = logs.lines.filter((l) => l.level === "WARN")
      expect(warnings).toHaveLength(2)
      expect(warnings[1]?.annotations).toMatchObject({ suppressed: 4 })
    }).pipe(Effect.provide(logs.layer))
  })
})

describe("LlmCacheFromConfig", () => {
  const dirs: Array<string> = []
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const backendOf = (env: Record<string, string>) =>
    Effect.gen(function*() {
      const c = yield* LlmCache
      yield* c.set("k", "v")
      return { stats: yield* c.stats, found: yield* c.get("k") }
    }).pipe(Effect.provide(LlmCacheFromConfig.layer.pipe(Layer.provide(testConfigLayer(env)))), Effect.scoped)

  it.effect("CACHE_ENABLED=false gives a cache that always misses", () =>
    Effect.gen(function*() {
      const { found, stats } = yield* backendOf({ CACHE_ENABLED: "false", CACHE_BACKEND: "memory" })
      expect(found).toEqual(Option.none())
      expect(stats.backend).toBe("disabled")
    }))

  it.effect("CACHE_BACKEND=memory gives the memory cache", () =>
    Effect.gen(function*() {
      const { found, stats } = yield* backendOf({ CACHE_BACKEND: "memory" })
      expect(found).toEqual(Option.some("v"))
      expect(stats.backend).toBe("memory")
    }))

  it.effect("CACHE_BACKEND=sqlite gives the SQLite cache in DATA_DIR", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "llmcache-config-"))
      dirs.push(dir)
      const { found, stats } = yield* backendOf({ CACHE_BACKEND: "sqlite", DATA_DIR: join(dir, "nested") })
      expect(found).toEqual(Option.some("v"))
      expect(stats.backend).toBe("sqlite")
    }))

  it.effect("the redis backend without a REDIS_URL warns and misses instead of failing", () => {
    // The config decoder rejects this combination; the layer still must not fail if handed one.
    const base = testConfig({ CACHE_BACKEND: "memory" })
    const config = Layer.succeed(AppConfig, { ...base, cache: { ...base.cache, backend: "redis" as const } })
    const logs = captureLogs()
    return Effect.gen(function*() {
      const c = yield* LlmCache
      yield* c.set("k", "v")
      expect(yield* c.get("k")).toEqual(Option.none())
      expect((yield* c.stats).backend).toBe("redis")
      expect(logs.lines.some((l) => l.level === "WARN" && l.text.includes("REDIS_URL"))).toBe(true)
    }).pipe(
      Effect.provide(LlmCacheFromConfig.layer.pipe(Layer.provide(config))),
      Effect.scoped,
      Effect.provide(logs.layer)
    )
  })
})
