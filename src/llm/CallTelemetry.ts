/**
 * CallTelemetry — everything the resilient layer tells the world about its calls, in one place:
 * `WorkflowEvents` (started, rate-limited, retrying, finished, breaker changes), the `llm_*` and
 * `gen_ai_*` metrics, the log lines, the run's and steps' tallies (which budgets read), and the
 * call's span when spans are exported (`CallSpans`).
 */
import type { LanguageModel } from "@effect/ai"
import type * as Response from "@effect/ai/Response"
import { Duration, Effect, FiberRef, LogLevel, Stream } from "effect"
import type { RetryInfo } from "./Retry.js"
import type { CircuitBreakerService } from "../services/CircuitBreaker.js"
import type { LlmError } from "../services/LlmError.js"
import * as Metrics from "../services/Metrics.js"
import type { ModelRef } from "../services/ModelFactory.js"
import * as WorkflowContext from "../services/WorkflowContext.js"
import {
  CircuitStateChanged,
  errorInfo,
  LlmCallFinished,
  LlmCallStarted,
  RateLimited,
  Retrying,
  unsafeMakeEvent,
  type Usage,
  type WorkflowEventsService
} from "../services/WorkflowEvents.js"
import type { Call } from "./Call.js"
import * as CallSpans from "./CallSpans.js"

/** How a logical call ended. */
export interface Outcome {
  /** The model that answered (or last failed); the one asked for on a cache hit. */
  readonly model: ModelRef
  readonly cached: boolean
  readonly attempts: number
  readonly usage: Usage
  readonly costUsd: number
  readonly error: LlmError | undefined
}

export interface CallTelemetry {
  readonly started: (call: Call, model: ModelRef, attempt: number) => Effect.Effect<void>
  readonly limited: (call: Call, model: ModelRef, waited: Duration.Duration) => Effect.Effect<void>
  readonly retrying: (call: Call, model: ModelRef, info: RetryInfo<LlmError>, attempts: number) => Effect.Effect<void>
  readonly fallingBack: (from: ModelRef, to: ModelRef, error: LlmError, attempts: number) => Effect.Effect<void>
  readonly finished: (call: Call, outcome: Outcome) => Effect.Effect<void>
}

export const usageOf = (response: LanguageModel.GenerateTextResponse<{}>): Usage => ({
  inputTokens: response.usage.inputTokens ?? 0,
  outputTokens: response.usage.outputTokens ?? 0
})

/** The cost the provider reported for a response (OpenRouter: the finish part's `usage.cost`). */
export const providerCost = (response: LanguageModel.GenerateTextResponse<{}>): number | undefined => {
  for (const part of response.content as ReadonlyArray<Response.AnyPart>) {
    if (part.type !== "finish") continue
    const meta = (part.metadata as Record<string, unknown> | undefined)?.["openrouter"] as
      | { usage?: { cost?: unknown } }
      | undefined
    const cost = meta?.usage?.cost
    if (typeof cost === "number") return cost
  }
  return undefined
}

/** The run / step / agent fields of an event (one shared empty object for a call outside any run). */
const contextFields = (ctx: WorkflowContext.WorkflowContextValue): ContextFields =>
  ctx.runId === undefined && ctx.stepId === undefined && ctx.agent === undefined ? noContext : {
    ...(ctx.runId === undefined ? {} : { runId: ctx.runId }),
    ...(ctx.stepId === undefined ? {} : { stepId: ctx.stepId }),
    ...(ctx.agent === undefined ? {} : { agent: ctx.agent })
  }
interface ContextFields {
  readonly runId?: string
  readonly stepId?: string
  readonly agent?: string
}
const noContext: ContextFields = {}

/** The metrics of one agent and model, tagged once (tagging copies and re-hashes every tag). */
const callMetrics = (agent: string, model: ModelRef) => {
  const tags = { agent, model: model.label }
  const genAi = { gen_ai_operation_name: "chat", gen_ai_provider_name: model.provider, gen_ai_request_model: model.label }
  const tagged = Metrics.fixedTags<number>
  return {
    success: tagged(Metrics.llmRequestsTotal, { ...tags, status: "success" }),
    error: tagged(Metrics.llmRequestsTotal, { ...tags, status: "error" }),
    duration: tagged(Metrics.llmRequestDurationSeconds, tags),
    genAiDuration: tagged(Metrics.genAiClientOperationDuration, genAi),
    inputTokens: tagged(Metrics.llmTokensTotal, { ...tags, type: "input" }),
    outputTokens: tagged(Metrics.llmTokensTotal, { ...tags, type: "output" }),
    cost: tagged(Metrics.llmCostUsdTotal, tags),
    genAiInputTokens: tagged(Metrics.genAiClientTokenUsage, { ...genAi, gen_ai_token_type: "input" }),
    genAiOutputTokens: tagged(Metrics.genAiClientTokenUsage, { ...genAi, gen_ai_token_type: "output" })
  }
}

type CallMetrics = ReturnType<typeof callMetrics>

/** The value of `id` in `map`, made on first use (agents, models and reasons are bounded sets). */
const getOrMake = <A>(map: Map<string, A>, id: string, make: () => A): A => {
  let value = map.get(id)
  if (value === undefined) {
    value = make()
    map.set(id, value)
  }
  return value
}

/** Telemetry publishing on `events`; breaker transitions are published for the life of the scope. */
export const make = (events: WorkflowEventsService, breaker: CircuitBreakerService) =>
  Effect.gen(function*() {
    yield* breaker.changes.pipe(
      Stream.runForEach((change) =>
        Effect.flatMap(Effect.clockWith((clock) => clock.currentTimeMillis), (at) =>
          events.publish(new CircuitStateChanged({ ...change, at })))
      ),
      Effect.forkScoped
    )
    const callMetricsById = new Map<string, CallMetrics>()
    const metricsFor = (agent: string, model: ModelRef): CallMetrics =>
      getOrMake(callMetricsById, `${agent}\u0000${model.ref}`, () => callMetrics(agent, model))
    const retriesById = new Map<string, Metrics.FixedTagged<number>>()
    const retries = (agent: string, model: string, reason: string) =>
      getOrMake(retriesById, `${agent}\u0000${model}\u0000${reason}`, () =>
        Metrics.fixedTags(Metrics.llmRetriesTotal, { agent, model, reason }))

    const telemetry: CallTelemetry = {
      started: (call, model, attempt) =>
        events.publish(unsafeMakeEvent(LlmCallStarted, {
          ...contextFields(call.ctx),
          model: model.label,
          provider: model.provider,
          attempt,
          at: call.clock.unsafeCurrentTimeMillis()
        })),
      limited: (call, model, waited) =>
        events.publish(unsafeMakeEvent(RateLimited, {
          ...(call.ctx.runId === undefined ? {} : { runId: call.ctx.runId }),
          ...(call.ctx.stepId === undefined ? {} : { stepId: call.ctx.stepId }),
          key: model.key,
          waitMs: Duration.toMillis(waited),
          at: call.clock.unsafeCurrentTimeMillis()
        })),
      retrying: (call, model, info, attempts) =>
        Effect.zipRight(
          Effect.zipRight(
            retries(call.ctx.agent ?? "none", model.label, info.reason)(1),
            events.publish(unsafeMakeEvent(Retrying, {
              ...contextFields(call.ctx),
              model: model.label,
              attempt: info.attempt,
              delayMs: Duration.toMillis(info.delay),
              reason: info.reason,
              at: call.clock.unsafeCurrentTimeMillis()
            }))
          ),
          Effect.logWarning("LLM attempt failed; retrying").pipe(Effect.annotateLogs({
            model: model.label,
            attempt: attempts,
            reason: info.error.message,
            delayMs: Duration.toMillis(info.delay)
          }))
        ),
      fallingBack: (from, to, error, attempts) =>
        Effect.logWarning("LLM model failed; falling back").pipe(
          Effect.annotateLogs({ model: from.label, next: to.label, attempt: attempts, reason: error.message })
        ),
      finished: (call, outcome) => finished(events, metricsFor, call, outcome)
    }
    return telemetry
  })

/** `LlmCallFinished`: the tallies, the event, the metrics and the log line of a finished call. */
const finished = (
  events: WorkflowEventsService,
  metricsFor: (agent: string, model: ModelRef) => CallMetrics,
  call: Call,
  outcome: Outcome
): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const now = call.clock.unsafeCurrentTimeMillis()
    const durationMs = Math.max(0, now - call.started)
    const { ctx } = call
    const status = outcome.error === undefined ? "success" : "error"
    const event = unsafeMakeEvent(LlmCallFinished, {
      ...contextFields(ctx),
      model: outcome.model.label,
      provider: outcome.model.provider,
      cached: outcome.cached,
      attempt: outcome.attempts,
      usage: outcome.usage,
      costUsd: outcome.costUsd,
      durationMs,
      status,
      ...(outcome.error === undefined ? {} : { error: errorInfo(outcome.error) }),
      at: now
    })
    // The run's budget and the steps' totals count the call before anyone hears of it.
    WorkflowContext.recordIn(ctx, event)
    if (call.span !== undefined) CallSpans.callFinished(call.span, outcome)
    const m = metricsFor(ctx.agent ?? "none", outcome.model)
    const seconds = durationMs / 1000
    const usage = outcome.usage
    // Applied here and now unless the fiber has metric labels of its own.
    const metrics = Metrics.updateAllNow(
      fiber,
      !outcome.cached && outcome.error === undefined
        ? [[m.success, 1], [m.duration, seconds], [m.genAiDuration, seconds], [m.inputTokens, usage.inputTokens],
          [m.outputTokens, usage.outputTokens], [m.cost, outcome.costUsd], [m.genAiInputTokens, usage.inputTokens],
          [m.genAiOutputTokens, usage.outputTokens]]
        : [[outcome.error === undefined ? m.success : m.error, 1], [m.duration, seconds], [m.genAiDuration, seconds]]
    )
    const published = events.publish(event)
    const done = metrics === undefined ? published : Effect.zipRight(published, metrics)
    // A success logs at DEBUG, usually filtered out: then skip building its annotations.
    if (outcome.error === undefined && LogLevel.greaterThan(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), LogLevel.Debug)) {
      return done
    }
    const log = outcome.error === undefined ? Effect.logDebug("LLM call finished") : Effect.logWarning("LLM call failed")
    return Effect.zipRight(done, log.pipe(Effect.annotateLogs({
      model: outcome.model.label,
      cached: outcome.cached,
      attempts: outcome.attempts,
      durationMs,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      costUsd: outcome.costUsd,
      ...(outcome.error === undefined ? {} : { error: outcome.error._tag, reason: outcome.error.message })
    })))
  })
