/**
 * Telemetry: the Prometheus `/metrics` endpoint over real loopback HTTP — exposition names, types
 * and labels the README documents, off by default, typed error on a busy port, server closed on release.
 * The Effect metric registry is global to this process, so each test uses its own label values.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, LogLevel, Metric, Scope } from "effect"
import { spawnSync } from "node:child_process"
import { type AddressInfo, createServer, type Server } from "node:net"
import * as Telemetry from "../src/layers/Telemetry.js"
import * as Metrics from "../src/services/Metrics.js"
import { testConfigLayer } from "./support/config.js"

/** A loopback port nobody listens on: bind port 0, read the port, release it. */
const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Whether something can still bind `127.0.0.1:port` — i.e. nothing listens there. */
const isFree = (port: number) =>
  Effect.async<boolean>((resume) => {
    const server = createServer()
    server.once("error", () => resume(Effect.succeed(false)))
    server.listen(port, "127.0.0.1", () => server.close(() => resume(Effect.succeed(true))))
  })

/** Occupies `127.0.0.1:port` for the current scope. */
const occupy = (port: number) =>
  Effect.acquireRelease(
    Effect.async<Server>((resume) => {
      const server = createServer()
      server.listen(port, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )

// The startup log line is not under test; keep the output readable.
const telemetryLayer = (env: Readonly<Record<string, string>>) =>
  Telemetry.layer.pipe(Layer.provide(testConfigLayer(env)), Layer.provide(Logger.minimumLogLevel(LogLevel.Warning)))

/** Starts the metrics server on a free loopback port for the current scope; returns its URL. */
const startServer = Effect.gen(function*() {
  const port = yield* freePort
  yield* Layer.build(telemetryLayer({ ENABLE_METRICS_SERVER: "true", METRICS_PORT: String(port) }))
  return `http://127.0.0.1:${port}/metrics`
})

const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }
  })

/** The sample lines of one metric family (`name`, `name_bucket`, ...) in an exposition. */
const samples = (body: string, prefix: string) =>
  body.split("\n").filter((line) => line.startsWith(prefix) && !line.startsWith("#"))

describe("Telemetry", () => {
  it.scopedLive("serves llm_requests_total as a counter with agent, model and status labels", () =>
    Effect.gen(function*() {
      const url = yield* startServer
      const counter = Metrics.withTags(Metrics.llmRequestsTotal, {
        agent: "counter-agent",
        model: "counter-model",
        status: "success"
      })
      yield* Metric.incrementBy(counter, 3)

      const { status, contentType, body } = yield* get(url)
      expect(status).toBe(200)
      expect(contentType).toContain("text/plain")
      expect(body).toContain("# TYPE llm_requests_total counter\n")
      expect(samples(body, "llm_requests_total")).toContain(
        `llm_requests_total{agent="counter-agent",model="counter-model",status="success"} 3`
      )
      expect(body).not.toContain("_total_total")
    }))

  it.scopedLive("serves llm_request_duration_seconds as a histogram with buckets, count and sum", () =>
    Effect.gen(function*() {
      const url = yield* startServer
      const histogram = Metric.tagged(
        Metric.tagged(Metrics.llmRequestDurationSeconds, "agent", "histogram-agent"),
        "model",
        "histogram-model"
      )
      yield* Metric.update(histogram, 0.3)
      yield* Metric.update(histogram, 4)

      const { body } = yield* get(url)
      const labels = `agent="histogram-agent",model="histogram-model"`
      expect(body).toContain("# TYPE llm_request_duration_seconds histogram\n")
      const lines = samples(body, "llm_request_duration_seconds")
      expect(lines).toContain(`llm_request_duration_seconds_bucket{${labels},le="0.25"} 0`)
      expect(lines).toContain(`llm_request_duration_seconds_bucket{${labels},le="0.5"} 1`)
      expect(lines).toContain(`llm_request_duration_seconds_bucket{${labels},le="5"} 2`)
      expect(lines).toContain(`llm_request_duration_seconds_bucket{${labels},le="+Inf"} 2`)
      expect(lines).toContain(`llm_request_duration_seconds_count{${labels}} 2`)
      expect(lines).toContain(`llm_request_duration_seconds_sum{${labels}} 4.3`)
    }))

  it.scopedLive("serves the GenAI semantic-convention histograms under their Prometheus names", () =>
    Effect.gen(function*() {
      const url = yield* startServer
      const operation = {
        gen_ai_operation_name: "chat",
        gen_ai_provider_name: "genai-provider",
        gen_ai_request_model: "genai-model"
      }
      yield* Metric.update(Metrics.withTags(Metrics.genAiClientOperationDuration, operation), 0.05)
      yield* Metric.update(
        Metrics.withTags(Metrics.genAiClientTokenUsage, { ...operation, gen_ai_token_type: "input" }),
        100
      )

      const { body } = yield* get(url)
      const labels = `gen_ai_operation_name="chat",gen_ai_provider_name="genai-provider",gen_ai_request_model="genai-model"`
      expect(body).toContain("# TYPE gen_ai_client_operation_duration_seconds histogram\n")
      expect(body).toContain("# TYPE gen_ai_client_token_usage histogram\n")
      // Spec boundaries: 0.01 … 81.92 s and 1 … 67108864 tokens.
      expect(samples(body, "gen_ai_client_operation_duration_seconds_bucket")).toEqual(
        expect.arrayContaining([
          `gen_ai_client_operation_duration_seconds_bucket{${labels},le="0.04"} 0`,
          `gen_ai_client_operation_duration_seconds_bucket{${labels},le="0.08"} 1`,
          `gen_ai_client_operation_duration_seconds_bucket{${labels},le="81.92"} 1`
        ])
      )
      expect(samples(body, "gen_ai_client_token_usage_bucket")).toEqual(
        expect.arrayContaining([
          `gen_ai_client_token_usage_bucket{${labels},gen_ai_token_type="input",le="64"} 0`,
          `gen_ai_client_token_usage_bucket{${labels},gen_ai_token_type="input",le="256"} 1`,
          `gen_ai_client_token_usage_bucket{${labels},gen_ai_token_type="input",le="67108864"} 1`
        ])
      )
    }))

  it.scopedLive("serves active_workflows and circuit_breaker_state as gauges", () =>
    Effect.gen(function*() {
      const url = yield* startServer
      yield* Metric.set(Metrics.activeWorkflows, 4)
      yield* Metric.set(Metric.tagged(Metrics.circuitBreakerState, "breaker", "gauge-breaker"), 2)

      const { body } = yield* get(url)
      expect(body).toContain("# TYPE active_workflows gauge\n")
      expect(samples(body, "active_workflows")).toEqual(["active_workflows 4"])
      expect(body).toContain("# TYPE circuit_breaker_state gauge\n")
      expect(samples(body, "circuit_breaker_state")).toContain(`circuit_breaker_state{breaker="gauge-breaker"} 2`)
    }))

  it.scopedLive("shows unlabelled cache counters at 0 before any lookup", () =>
    Effect.gen(function*() {
      const url = yield* startServer
      const { body } = yield* get(url)
      expect(body).toContain("# TYPE llm_cache_hits_total counter\n")
      expect(body).toContain("# TYPE llm_cache_misses_total counter\n")
      expect(samples(body, "llm_cache_misses_total")).toEqual(["llm_cache_misses_total 0"])
    }))

  it.scopedLive("answers 404 outside /metrics", () =>
    Effect.gen(function*() {
      const url = yield* startServer
      const { status } = yield* get(url.replace(/\/metrics$/, "/other"))
      expect(status).toBe(404)
    }))

  it.effect("renders the same exposition without a server through scrape", () =>
    Effect.gen(function*() {
      yield* Metric.increment(Metrics.withTags(Metrics.llmRetriesTotal, {
        agent: "scrape-agent",
        model: "scrape-model",
        reason: "rate_limited"
      }))
      const body = yield* Telemetry.scrape
      expect(body).toContain("# TYPE llm_retries_total counter\n")
      expect(samples(body, "llm_retries_total")).toContain(
        `llm_retries_total{agent="scrape-agent",model="scrape-model",reason="rate_limited"} 1`
      )
    }))

  it.scopedLive("opens no port when the metrics server is not enabled (the default)", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      yield* Layer.build(telemetryLayer({ METRICS_PORT: String(port) }))
      expect(yield* isFree(port)).toBe(true)
    }))

  it.scopedLive("fails with MetricsServerError naming host and port when the port is in use", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      yield* occupy(port)
      const error = yield* Layer.build(
        telemetryLayer({ ENABLE_METRICS_SERVER: "true", METRICS_PORT: String(port) })
      ).pipe(Effect.flip)
      expect(error._tag).toBe("MetricsServerError")
      expect(error.host).toBe("127.0.0.1")
      expect(error.port).toBe(port)
      expect(error.message).toBe(`cannot serve metrics on 127.0.0.1:${port}: address already in use`)
    }))

  it.scopedLive("closes the server when the layer is released", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const url = yield* startServer.pipe(Scope.extend(scope))
      const port = Number(new URL(url).port)
      expect(yield* isFree(port)).toBe(false)
      yield* Scope.close(scope, Exit.void)
      expect(yield* isFree(port)).toBe(true)
    }))

  const promtool = spawnSync("promtool", ["--version"]).error === undefined
  // CI must have promtool (Debian package `prometheus`): there a missing binary fails this test.
  it.scopedLive.runIf(promtool || process.env["EFFECT_AGENTS_CI"] === "1")(
    "serves an exposition that promtool check metrics accepts",
    () =>
      Effect.gen(function*() {
        expect(promtool, "promtool not on PATH: apt-get install -y prometheus").toBe(true)
        const url = yield* startServer
        yield* Metric.increment(Metrics.withTags(Metrics.llmRequestsTotal, {
          agent: "lint-agent",
          model: "lint-model",
          status: "error"
        }))
        yield* Metric.update(Metrics.withTags(Metrics.workflowDurationSeconds, { workflow: "lint", status: "success" }), 1)
        const { body } = yield* get(url)
        const check = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8" })
        expect(`${check.stdout}${check.stderr}`).toBe("")
        expect(check.status).toBe(0)
      })
  )
})
