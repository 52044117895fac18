/**
 * Traces over OTLP, end to end on the production wiring (`MainLayer`): workflows run against the
 * loopback fake provider, spans go to a loopback OTLP/HTTP receiver that decodes what arrives
 * (protobuf by default, JSON with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`). Checked: the span tree
 * run → step → agent → LLM call → attempt, the GenAI attributes, the resource, the export headers,
 * a failed call's status and error tag, that no key or header value is exported or logged, and the
 * run's trace id in the history and its log lines. With no endpoint nothing is traced at all.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Schema, Stream, Tracer } from "effect"
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Workflow from "../src/agents/Workflow.js"
import { summarizer } from "../src/agents/workflows/summarize.js"
import { tracedWith } from "../src/internal/tracing.js"
import * as MainLayer from "../src/layers/MainLayer.js"
import { flush, RunHistory } from "../src/services/RunHistory.js"
import * as FakeProvider from "./support/FakeProvider.js"
import * as Receiver from "./support/OtlpReceiver.js"

// The shipped summarize streams; these spans are those of a call answered in one piece.
const summarize = Workflow.make("summarize", "summarise at once", Schema.String, (text) =>
  Workflow.step("summarize", summarizer.run(text), { agent: summarizer.name }))
const streamedSummary = Workflow.make("streamed", "summarise as a stream", Schema.String, (text) =>
  Workflow.step("write", Stream.mkString(summarizer.stream(text)), { agent: summarizer.name }))

const KEY = "sk-trace-secret-123"
const HEADER_SECRET = "hny-team-secret 42"

/** A fresh working directory's settings: logs and history in it, the fake provider, DEBUG logs. */
const baseEnv = (dir: string, fake: FakeProvider.FakeProvider, provider: "openai" | "google" = "openai") => ({
  LLM_PROVIDER: provider,
  ...(provider === "openai" ? { OPENAI_API_KEY: KEY, LLM_BASE_URL: fake.openaiUrl } : { GOOGLE_API_KEY: KEY, LLM_BASE_URL: fake.url }),
  LLM_MODEL: provider === "openai" ? "fake-model" : "gemini-2.0-flash",
  MAX_RETRIES: "2",
  RETRY_INITIAL_WAIT: "0",
  RETRY_MAX_WAIT: "0",
  CACHE_BACKEND: "memory",
  LOG_LEVEL: "DEBUG",
  LOG_DIR: join(dir, "logs"),
  DATA_DIR: join(dir, "data")
})

/** `effect` on the production services built from exactly `env`; released (spans flushed) when it ends. */
const withMain = <A, E, R>(dir: string, env: Readonly<Record<string, string>>, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const result = yield* effect
    // Runs are printed only once the history has them; so are they read here.
    yield* flush("5 seconds")
    return result
  }).pipe(
    Effect.provide(MainLayer.layer({ isTty: false, console: false, color: false, dotenvPath: join(dir, ".env") })),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.provide(NodeFileSystem.layer)
  )

/** A run as the history has it, once the recorder wrote it. */
const recorded = (id: string) =>
  Effect.zipRight(flush("5 seconds"), Effect.flatMap(RunHistory, (h) => Effect.map(h.getRun(id), Option.getOrThrow)))

const logLines = (dir: string): ReadonlyArray<Record<string, unknown>> =>
  readdirSync(join(dir, "logs")).flatMap((file) =>
    readFileSync(join(dir, "logs", file), "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>)
  )

const logText = (dir: string): string => readdirSync(join(dir, "logs")).map((f) => readFileSync(join(dir, "logs", f), "utf8")).join("")

const one = (spans: ReadonlyArray<Receiver.ExportedSpan>, name: string, traceId?: string): Receiver.ExportedSpan => {
  const found = spans.filter((s) => s.name === name && (traceId === undefined || s.traceId === traceId))
  expect(found.map((s) => s.name)).toEqual([name])
  return found[0]!
}

describe("traces over OTLP", () => {
  it.scopedLive("a run's spans form run → step → agent → LLM call → attempts, with GenAI attributes, the resource and the headers", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver.make
      const fake = yield* FakeProvider.make({ script: [FakeProvider.status(503), FakeProvider.ok("Owls hunt at night.", { usage: { promptTokens: 31, completionTokens: 5 } })] })
      const dir = mkdtempSync(join(tmpdir(), "ea-trace-"))
      const env = {
        ...baseEnv(dir, fake),
        OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/`,
        OTEL_EXPORTER_OTLP_HEADERS: `x-honeycomb-team=${encodeURIComponent(HEADER_SECRET)}, x-other=1`,
        OTEL_SERVICE_NAME: "agents-under-test",
        OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test,team=owls%20%26%20bats"
      }
      const { detail, report } = yield* withMain(dir, env, Effect.gen(function*() {
        const report = yield* summarize.runReport("A long text about owls.", {})
        return { report, detail: yield* recorded(report.id) }
      }))
      expect(report.status).toBe("succeeded")

      // Nothing was sent before the end (a run of milliseconds, a 5 s export interval): the release flushed it.
      expect(receiver.requests.map((r) => [r.path, r.contentType])).toEqual([["/v1/traces", "application/x-protobuf"]])
      expect(receiver.requests[0]!.headers["x-honeycomb-team"]).toBe(HEADER_SECRET)
      expect(receiver.requests[0]!.headers["x-other"]).toBe("1")
      const spans = receiver.spans()
      const run = one(spans, "Workflow.summarize")
      expect(run.parentSpanId).toBeUndefined()
      // The test's own reads of the history are traced too, in traces of their own.
      const trace = spans.filter((s) => s.traceId === run.traceId)
      expect(trace.map((s) => s.name).sort()).toEqual(
        ["Agent.summarizer", "LanguageModel.generateText", "Step.summarize", "Workflow.summarize", "chat fake-model", "chat fake-model"]
      )
      expect(run.resource).toMatchObject({ "service.name": "agents-under-test", "deployment.environment": "test", team: "owls & bats" })
      expect(run.attributes).toMatchObject({ "workflow.name": "summarize", "workflow.run_id": report.id, "workflow.status": "succeeded" })

      const step = one(spans, "Step.summarize")
      const agent = one(spans, "Agent.summarizer")
      const call = one(spans, "LanguageModel.generateText")
      const attempts = spans.filter((s) => s.name === "chat fake-model")
      expect([step.parentSpanId, agent.parentSpanId, call.parentSpanId]).toEqual([run.spanId, step.spanId, agent.spanId])
      expect(attempts.map((a) => a.parentSpanId)).toEqual([call.spanId, call.spanId])
      expect(call.attributes).toMatchObject({
        "gen_ai.request.model": "fake-model",
        "gen_ai.provider.name": "openai",
        "llm.cache_hit": false,
        "llm.attempts": 2,
        "workflow.run_id": report.id
      })
      // Tokens are counted on the attempts only, so a backend summing them counts each once.
      expect(call.attributes).not.toHaveProperty("gen_ai.usage.input_tokens")

      const [failed, answered] = [...attempts].sort((a, b) => Number(a.attributes["llm.attempt"]) - Number(b.attributes["llm.attempt"]))
      expect(failed!.kind).toBe(3) // client
      expect(failed!.status.code).toBe(2)
      expect(failed!.attributes["error.type"]).toBe("ProviderUnavailable")
      expect(answered!.status.code).toBe(1)
      expect(answered!.attributes).toMatchObject({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "fake-model",
        "gen_ai.response.model": "fake-model",
        "gen_ai.usage.input_tokens": 31,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.agent.name": "summarizer",
        "llm.attempt": 2,
        "workflow.run_id": report.id
      })

      // The trace is the run's in the history and in every log line the run wrote.
      expect(detail.traceId).toBe(run.traceId)
      const lines = logLines(dir).filter((l) => l["runId"] === report.id)
      expect(lines.length).toBeGreaterThan(0)
      expect(lines.every((l) => l["traceId"] === run.traceId)).toBe(true)

      // No secret in what was exported or logged.
      const exported = Buffer.concat(receiver.requests.map((r) => r.body)).toString("latin1")
      for (const secret of [KEY, HEADER_SECRET, encodeURIComponent(HEADER_SECRET)]) {
        expect(exported).not.toContain(secret)
        expect(logText(dir)).not.toContain(secret)
      }
    }))

  it.scopedLive("a failed call's spans carry its error tag and message with status error; a cache hit makes no attempt", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver.make
      const fake = yield* FakeProvider.make({ script: FakeProvider.ok("Cached summary.") })
      const dir = mkdtempSync(join(tmpdir(), "ea-trace-"))
      const env = { ...baseEnv(dir, fake), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/custom/v1/traces` }
      const reports = yield* withMain(dir, env, Effect.gen(function*() {
        const first = yield* summarize.runReport("Text one.", {})
        const hit = yield* summarize.runReport("Text one.", {})
        fake.setScript(FakeProvider.status(401))
        const failed = yield* summarize.runReport("Text two.", {})
        return { first, hit, failed }
      }))
      expect([reports.first.status, reports.hit.status, reports.failed.status]).toEqual(["succeeded", "succeeded", "failed"])
      expect(new Set(receiver.requests.map((r) => r.path))).toEqual(new Set(["/custom/v1/traces"]))
      const spans = receiver.spans()
      const runOf = (id: string) => spans.find((s) => s.attributes["workflow.run_id"] === id && s.name === "Workflow.summarize")!

      const hitTrace = runOf(reports.hit.id).traceId
      expect(one(spans, "LanguageModel.generateText", hitTrace).attributes).toMatchObject({ "llm.cache_hit": true, "llm.attempts": 0 })
      expect(spans.filter((s) => s.traceId === hitTrace && s.name.startsWith("chat "))).toEqual([])

      const failedRun = runOf(reports.failed.id)
      const trace = spans.filter((s) => s.traceId === failedRun.traceId)
      expect(trace.map((s) => s.name).sort()).toEqual(
        ["Agent.summarizer", "LanguageModel.generateText", "Step.summarize", "Workflow.summarize", "chat fake-model"]
      )
      for (const span of trace) {
        expect(span.status.code).toBe(2)
        expect(span.attributes["error.type"]).toBe("Unauthorized")
        expect(span.status.message).toBe("openai refused the credentials for fake-model (HTTP 401); check the API key")
        // The tag and message, not a Cause dump; not labelled interrupted.
        const exception = span.events.find((e) => e.name === "exception")!
        expect(exception.attributes).toMatchObject({ "exception.type": "Unauthorized" })
        expect(String(exception.attributes["exception.stacktrace"]).split("\n")).toHaveLength(1)
        expect(span.attributes).not.toHaveProperty("status.interrupted")
        expect(span.attributes).not.toHaveProperty("span.label")
      }
      expect(failedRun.attributes["workflow.status"]).toBe("failed")
      expect(Buffer.concat(receiver.requests.map((r) => r.body)).toString("latin1")).not.toContain(KEY)
    }))

  it.scopedLive("a streamed answer is one LanguageModel.streamText span under the agent's, for as long as it streams", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver.make
      const fake = yield* FakeProvider.make({ script: [FakeProvider.status(503), FakeProvider.streamed("Owls hunt at night.", { gapMs: 5 })] })
      const dir = mkdtempSync(join(tmpdir(), "ea-trace-"))
      const env = { ...baseEnv(dir, fake), OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/` }
      const report = yield* withMain(dir, env, streamedSummary.runReport("A long text about owls.", {}))
      expect(report.status).toBe("succeeded")
      const spans = receiver.spans()
      const agent = one(spans, "Agent.summarizer")
      const call = one(spans, "LanguageModel.streamText")
      const attempts = spans.filter((s) => s.name === "chat fake-model")
      expect(call.parentSpanId).toBe(agent.spanId)
      expect(attempts.map((a) => a.parentSpanId)).toEqual([call.spanId, call.spanId])
      expect(call.attributes).toMatchObject({ "llm.cache_hit": false, "llm.attempts": 2, "llm.output_tokens": 5, "workflow.run_id": report.id })
      // The call's span lasts until the last piece, after its attempts' first token.
      for (const attempt of attempts) expect(call.endNanos >= attempt.endNanos).toBe(true)
    }))

  it.scopedLive("Gemini over HTTP, exported as JSON: the HTTP client's span sits under the attempt, and the key is in no span", () =>
    Effect.gen(function*() {
      const receiver = yield* Receiver.make
      const fake = yield* FakeProvider.make({ script: FakeProvider.ok("Gemini summary.") })
      const dir = mkdtempSync(join(tmpdir(), "ea-trace-"))
      const env = { ...baseEnv(dir, fake, "google"), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }
      const report = yield* withMain(dir, env, summarize.runReport("A text for Gemini.", {}))
      expect(report.status).toBe("succeeded")
      expect(receiver.requests.every((r) => r.contentType.startsWith("application/json"))).toBe(true)
      const spans = receiver.spans()
      const attempt = one(spans, "chat gemini-2.0-flash")
      expect(attempt.attributes).toMatchObject({ "gen_ai.provider.name": "google", "gen_ai.response.model": "gemini-2.0-flash" })
      const http = spans.filter((s) => s.parentSpanId === attempt.spanId)
      expect(http.map((s) => [s.name, s.kind])).toEqual([["http.client POST", 3]])
      expect(http[0]!.attributes["http.request.header.x-goog-api-key"]).toBe("<redacted>")
      expect(Buffer.concat(receiver.requests.map((r) => r.body)).toString("utf8")).not.toContain(KEY)
      expect(fake.requests[0]!.headers["x-goog-api-key"]).toBe(KEY)
      // The request carries the attempt's trace context, so a tracing gateway can join the trace.
      expect(fake.requests[0]!.headers["traceparent"]).toMatch(new RegExp(`^00-${attempt.traceId}-[0-9a-f]{16}-01$`))
    }))

  it.scopedLive("with no endpoint nothing is traced: Effect's own tracer, no trace id in the history or the logs", () =>
    Effect.gen(function*() {
      const fake = yield* FakeProvider.make({ script: FakeProvider.ok("Plain summary.") })
      const dir = mkdtempSync(join(tmpdir(), "ea-trace-"))
      const native = yield* Effect.tracer
      const { detail, tracer } = yield* withMain(dir, baseEnv(dir, fake), Effect.gen(function*() {
        const report = yield* summarize.runReport("Untraced text.", {})
        return {
          detail: yield* recorded(report.id),
          tracer: yield* Effect.tracer
        }
      }))
      expect(tracer).toBe(native)
      expect(detail.status).toBe("succeeded")
      expect(detail).not.toHaveProperty("traceId")
      expect(logLines(dir).filter((l) => l["runId"] === detail.id).length).toBeGreaterThan(0)
      expect(logLines(dir).some((l) => "traceId" in l)).toBe(false)
    }))
})

describe("spans only under an exporting tracer", () => {
  const probe = Effect.gen(function*() {
    let built = 0
    const seen = yield* tracedWith("probe", () => {
      built += 1
      return { attributes: { costly: true } }
    }, (span) => Effect.succeed(span))
    return { built, seen }
  })

  it.effect("under Effect's built-in tracer no span is made and no span option is built", () =>
    Effect.map(probe, ({ built, seen }) => expect([built, seen]).toEqual([0, undefined])))

  it.effect("under an exporting tracer the span is made, its options built once", () => {
    const native = Effect.runSync(Effect.tracer)
    const exporting = Tracer.make({ span: (...args) => native.span(...args), context: native.context })
    return Effect.map(probe, ({ built, seen }) => {
      expect(built).toBe(1)
      expect(seen?.name).toBe("probe")
      expect(seen?.attributes.get("costly")).toBe(true)
    }).pipe(Effect.provide(Layer.setTracer(exporting)))
  })
})
