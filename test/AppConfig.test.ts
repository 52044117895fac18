import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, Option, Redacted } from "effect"
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { load } from "../src/layers/AppConfigEnv.js"
import { AppConfig, settings } from "../src/services/AppConfig.js"
import * as AppConfigEnv from "../src/layers/AppConfigEnv.js"
import { parsePairs } from "../src/services/OtlpSettings.js"

const withEnv = (env: Record<string, string>, dotenv?: string) => {
  const dir = mkdtempSync(join(tmpdir(), "ea-config-"))
  const dotenvPath = join(dir, ".env")
  if (dotenv !== undefined) writeFileSync(dotenvPath, dotenv)
  return <A, E>(f: (path: string) => Effect.Effect<A, E, NodeContext.NodeContext>) =>
    f(dotenvPath).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.provide(NodeContext.layer)
    )
}

describe("AppConfig", () => {
  it.effect("uses the documented defaults when nothing is set", () =>
    withEnv({})((dotenvPath) =>
      Effect.gen(function*() {
        const { config } = yield* load({ dotenvPath })
        expect(config.llm.provider).toBe("simulated")
        expect(config.llm.model).toBe("simulated-1")
        expect(Duration.toSeconds(config.llm.timeout)).toBe(60)
        expect(config.log.level).toBe("INFO")
        expect(config.log.format).toBe("json")
        expect(config.log.dir).toBe(".effect-agents/logs")
        expect(config.metrics).toEqual({ enabled: false, port: 8000, host: "127.0.0.1" })
        expect(config.cache.backend).toBe("sqlite")
        expect(Duration.toSeconds(config.cache.ttl)).toBe(3600)
        expect(config.cache.sizeLimitBytes).toBe(1073741824)
        expect(config.rateLimit.maxCalls).toBe(60)
        expect(Option.isNone(config.rateLimit.maxTokens)).toBe(true)
        expect(config.retry.maxRetries).toBe(3)
        expect(Duration.toSeconds(config.retry.initialWait)).toBe(1)
        expect(Duration.toSeconds(config.retry.maxWait)).toBe(60)
        expect(config.circuitBreaker).toMatchObject({ enabled: true, failureThreshold: 5 })
        expect(config.simulated).toEqual({ seed: 1, latencyMs: 400, errorRate: 0.05, rateLimitRate: 0.05 })
      })
    ))

  it.effect("reads .env, and the real environment wins over it", () =>
    withEnv({ MAX_RETRIES: "7" }, "MAX_RETRIES=2\nCACHE_BACKEND=memory\n# comment\nLOG_LEVEL=debug\n")((dotenvPath) =>
      Effect.gen(function*() {
        const { config, effective } = yield* load({ dotenvPath })
        expect(config.retry.maxRetries).toBe(7)
        expect(config.cache.backend).toBe("memory")
        expect(config.log.level).toBe("DEBUG")
        const source = (key: string) => effective.find((s) => s.key === key)?.source
        expect(source("MAX_RETRIES")).toBe("env")
        expect(source("CACHE_BACKEND")).toBe(".env")
        expect(source("CACHE_TTL")).toBe("default")
      })
    ))

  it.effect("reports every invalid key at once, with what was expected and found", () =>
    withEnv({
      MAX_RETRIES: "abc",
      METRICS_PORT: "99999",
      SIM_ERROR_RATE: "1.5",
      CACHE_BACKEND: "mongo",
      ENABLE_METRICS_SERVER: "maybe",
      LLM_TIMEOUT: "-1"
    })((dotenvPath) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(load({ dotenvPath }))
        expect(error._tag).toBe("InvalidConfig")
        const keys = error.problems.map((p) => p.key).sort()
        expect(keys).toEqual(
          ["CACHE_BACKEND", "ENABLE_METRICS_SERVER", "LLM_TIMEOUT", "MAX_RETRIES", "METRICS_PORT", "SIM_ERROR_RATE"]
        )
        const port = error.problems.find((p) => p.key === "METRICS_PORT")!
        expect(port.expected).toContain("1-65535")
        expect(port.found).toBe("\"99999\"")
        expect(error.message).toContain("MAX_RETRIES")
        expect(error.message).toContain("METRICS_PORT")
      })
    ))

  it.effect("keeps API keys Redacted and never shows them", () =>
    withEnv({ OPENROUTER_API_KEY: "sk-test-123", REDIS_URL: "redis://:hunter2@127.0.0.1:6379" })((dotenvPath) =>
      Effect.gen(function*() {
        const { config, effective } = yield* load({ dotenvPath })
        expect(config.llm.provider).toBe("openrouter")
        const key = Option.getOrThrow(config.llm.openrouterApiKey)
        expect(Redacted.isRedacted(key)).toBe(true)
        expect(Redacted.value(key)).toBe("sk-test-123")
        const shown = JSON.stringify(effective) + String(key) + JSON.stringify(config)
        expect(shown).not.toContain("sk-test-123")
        expect(shown).not.toContain("hunter2")
      })
    ))

  it.effect("an explicitly chosen provider without its key is a config error", () =>
    withEnv({ LLM_PROVIDER: "google" })((dotenvPath) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(load({ dotenvPath }))
        expect(error.problems.map((p) => p.key)).toEqual(["GOOGLE_API_KEY"])
      })
    ))

  it.effect("an OpenAI-compatible local server needs only a base URL", () =>
    withEnv({ LLM_PROVIDER: "openai", LLM_BASE_URL: "http://127.0.0.1:11434/v1", LLM_MODEL: "llama3" })(
      (dotenvPath) =>
        Effect.gen(function*() {
          const { config } = yield* load({ dotenvPath })
          expect(config.llm.provider).toBe("openai")
          expect(Option.getOrThrow(config.llm.baseUrl)).toBe("http://127.0.0.1:11434/v1")
          expect(config.llm.model).toBe("llama3")
        })
    ))

  it.effect("the redis backends require REDIS_URL", () =>
    withEnv({ CACHE_BACKEND: "redis", RATE_LIMIT_BACKEND: "redis" })((dotenvPath) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(load({ dotenvPath }))
        expect(error.problems.map((p) => p.key)).toEqual(["REDIS_URL"])
        expect(error.problems[0]!.expected).toContain("CACHE_BACKEND=redis and RATE_LIMIT_BACKEND=redis")
      })
    ))

  it.effect("parses comma-separated fallback models and booleans in common spellings", () =>
    withEnv({ LLM_FALLBACK_MODELS: "a/b, c/d ,,", ENABLE_METRICS_SERVER: "YES", CACHE_ENABLED: "0" })(
      (dotenvPath) =>
        Effect.gen(function*() {
          const { config } = yield* load({ dotenvPath })
          expect(config.llm.fallbackModels).toEqual(["a/b", "c/d"])
          expect(config.metrics.enabled).toBe(true)
          expect(config.cache.enabled).toBe(false)
        })
    ))

  it.effect("a DATA_DIR that cannot be a directory is one InvalidConfig line naming the variable, path and why", () => {
    const file = join(mkdtempSync(join(tmpdir(), "ea-dirs-")), "not-a-dir")
    writeFileSync(file, "x")
    return withEnv({ DATA_DIR: join(file, "data") })((dotenvPath) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(load({ dotenvPath }))
        expect(error.problems.map((p) => p.key)).toEqual(["DATA_DIR"])
        expect(error.message).not.toContain("\n")
        expect(error.message).toContain(`DATA_DIR: expected a writable directory, found ${JSON.stringify(join(file, "data"))} (from env)`)
        expect(error.message).toContain(`${file} exists and is not a directory`)
      })
    )
  })

  it.effect("a LOG_DIR the kernel refuses (/proc) fails at once with the reason, instead of looping", () =>
    withEnv({ LOG_DIR: "/proc/effect-agents/logs" })((dotenvPath) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(load({ dotenvPath }))
        expect(error.problems.map((p) => p.key)).toEqual(["LOG_DIR"])
        expect(error.problems[0]!.reason).toMatch(/^cannot create \/proc\/effect-agents: E[A-Z]+/)
      })
    ))

  it.effect("checking the configuration leaves no directory behind", () => {
    const root = mkdtempSync(join(tmpdir(), "ea-dirs-"))
    return withEnv({ DATA_DIR: join(root, "data", "x"), LOG_DIR: join(root, "logs", "y") })((dotenvPath) =>
      Effect.gen(function*() {
        yield* load({ dotenvPath })
        expect(existsSync(join(root, "data"))).toBe(false)
        expect(existsSync(join(root, "logs"))).toBe(false)
      })
    )
  })

  it.effect("the layer creates DATA_DIR and a private LOG_DIR before anything runs", () => {
    const root = mkdtempSync(join(tmpdir(), "ea-dirs-"))
    return withEnv({ DATA_DIR: join(root, "data", "x"), LOG_DIR: join(root, "logs", "y") })((dotenvPath) =>
      Effect.gen(function*() {
        yield* AppConfig
        expect(statSync(join(root, "data", "x")).isDirectory()).toBe(true)
        expect(statSync(join(root, "logs", "y")).mode & 0o777).toBe(0o700)
      }).pipe(Effect.provide(AppConfigEnv.layer({ dotenvPath })))
    )
  })

  it.effect("a DATA_DIR nothing stores in (memory cache, PostgreSQL history) is not required", () => {
    const file = join(mkdtempSync(join(tmpdir(), "ea-dirs-")), "not-a-dir")
    writeFileSync(file, "x")
    return withEnv({
      DATA_DIR: file,
      CACHE_BACKEND: "memory",
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test",
      LOG_DIR: join(tmpdir(), "ea-logs-unused")
    })((dotenvPath) =>
      Effect.gen(function*() {
        const { config } = yield* load({ dotenvPath })
        expect(config.dataDir).toBe(file)
      })
    )
  })

  it.effect("the layer provides the AppConfig service", () =>
    withEnv({ LLM_MODEL: "m-1" })((dotenvPath) =>
      Effect.gen(function*() {
        const config = yield* AppConfig
        expect(config.llm.model).toBe("m-1")
      }).pipe(Effect.provide(AppConfigEnv.layer({ dotenvPath })))
    ))
})

describe("OTEL_* (trace export)", () => {
  it.effect("nothing is exported by default", () =>
    withEnv({})((dotenvPath) =>
      Effect.gen(function*() {
        const { config, effective } = yield* load({ dotenvPath })
        expect(Option.isNone(config.tracing.url)).toBe(true)
        expect(config.tracing.serviceName).toBe("effect-agents")
        expect(config.tracing.protocol).toBe("http/protobuf")
        expect(effective.find((s) => s.key === "OTEL_SERVICE_NAME")).toEqual({ key: "OTEL_SERVICE_NAME", value: "effect-agents", source: "default" })
      })
    ))

  it.effect("a base endpoint gets /v1/traces under its path; the traces endpoint is used as is and wins", () =>
    Effect.gen(function*() {
      const url = (env: Record<string, string>) =>
        withEnv(env)((dotenvPath) => Effect.map(load({ dotenvPath }), ({ config }) => Option.getOrThrow(config.tracing.url)))
      expect(yield* url({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318" })).toBe("http://localhost:4318/v1/traces")
      expect(yield* url({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://otlp.example.com/otlp/" })).toBe("https://otlp.example.com/otlp/v1/traces")
      expect(yield* url({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://b/x/traces" }))
        .toBe("https://b/x/traces")
      const { effective } = yield* withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318" })((dotenvPath) => load({ dotenvPath }))
      expect(effective.find((s) => s.key === "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        .toEqual({ key: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value: "http://localhost:4318/v1/traces", source: "derived" })
    }))

  it.effect("headers and resource attributes are %-decoded pairs; the headers are a secret; service.name may come from the attributes", () =>
    withEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318",
      OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team=abc%20123 , Authorization=Basic%20dTpw,x-sentry-auth=old,,",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "X-Sentry-Auth=sentry sentry_key=k1",
      OTEL_RESOURCE_ATTRIBUTES: "service.name=from-attrs,deployment.environment=prod%2Ceu",
      OTEL_EXPORTER_OTLP_PROTOCOL: "HTTP/JSON"
    })((dotenvPath) =>
      Effect.gen(function*() {
        const { config, effective } = yield* load({ dotenvPath })
        expect(Redacted.value(config.tracing.headers))
          .toEqual({ "x-honeycomb-team": "abc 123", Authorization: "Basic dTpw", "X-Sentry-Auth": "sentry sentry_key=k1" })
        expect(config.tracing.resourceAttributes).toEqual({ "service.name": "from-attrs", "deployment.environment": "prod,eu" })
        expect(config.tracing.serviceName).toBe("from-attrs")
        expect(config.tracing.protocol).toBe("http/json")
        const shown = JSON.stringify(effective) + JSON.stringify(config) + String(config.tracing.headers)
        expect(shown).not.toContain("abc")
        expect(shown).not.toContain("dTpw")
        expect(shown).not.toContain("k1")
      })
    ))

  it.effect("OTEL_SERVICE_NAME wins over service.name among the resource attributes", () =>
    withEnv({ OTEL_SERVICE_NAME: "mine", OTEL_RESOURCE_ATTRIBUTES: "service.name=theirs" })((dotenvPath) =>
      Effect.map(load({ dotenvPath }), ({ config }) => expect(config.tracing.serviceName).toBe("mine"))
    ))

  it.effect("bad values are listed with the other bad keys, and a header's value is never shown", () =>
    withEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: "localhost:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "not a url",
      OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=s3cret-value,just-a-token",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_RESOURCE_ATTRIBUTES: "team=%zz",
      MAX_RETRIES: "abc"
    })((dotenvPath) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(load({ dotenvPath }))
        expect(error.problems.map((p) => p.key).sort()).toEqual([
          "MAX_RETRIES",
          "OTEL_EXPORTER_OTLP_ENDPOINT",
          "OTEL_EXPORTER_OTLP_HEADERS",
          "OTEL_EXPORTER_OTLP_PROTOCOL",
          "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
          "OTEL_RESOURCE_ATTRIBUTES"
        ])
        expect(error.message).toContain("OTEL_EXPORTER_OTLP_ENDPOINT: expected an http(s) URL, found \"localhost:4318\"")
        expect(error.message).toContain("OTEL_EXPORTER_OTLP_HEADERS: expected comma-separated name=value pairs, values %-encoded, found <redacted>")
        expect(error.message).toContain("OTEL_EXPORTER_OTLP_PROTOCOL: expected http/protobuf | http/json, found \"grpc\"")
        expect(error.message).not.toContain("s3cret")
      })
    ))

  it("a header name or value that cannot be sent is refused, naming the entry, not its value", () => {
    expect(parsePairs("a=1,b", {})).toEqual(Either.left("entry 2 is not key=value"))
    expect(parsePairs("bad name=1", { key: /^[a-z-]+$/ })).toEqual(Either.left("entry 1 has a key that is not a header name"))
    expect(parsePairs("x=a%0Ab", { value: /^[^\r\n]*$/ })).toEqual(Either.left("entry 1 has a line break in its value"))
    expect(parsePairs(" k = v%3Dw ", {})).toEqual(Either.right({ k: "v=w" }))
  })
})

describe(".env.example", () => {
  it("documents every setting with its default", () => {
    const text = readFileSync(new URL("../.env.example", import.meta.url), "utf8")
    for (const s of settings) {
      const line = s.default !== undefined ? `\n${s.key}=${s.default}\n` : `\n# ${s.key}=\n`
      expect(text).toContain(line)
    }
  })
})
