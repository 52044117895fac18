/**
 * ResilientLanguageModel — wraps a provider's `LanguageModel` with the production stack.
 *
 * Order per call: cache → retry → circuit breaker → rate limiter → timeout → provider.
 * Each attempt takes its own rate-limit permit and counts in its breaker; retry stops at once on
 * `CircuitOpen`; when the primary model ends in a retryable failure (after its retries) or its
 * breaker is open, the call moves to the next of `LLM_FALLBACK_MODELS`. Only successes enter the
 * cache, and concurrent identical requests share one provider call (single-flight).
 *
 * Every call publishes `LlmCallStarted` / `Retrying` / `LlmCallFinished` events tagged with the
 * run, step and agent of the fiber's `WorkflowContext`, and records the `llm_*` and `gen_ai_*`
 * metrics. Failures are `LlmError`s; because `LanguageModel`'s interface fails with `AiError`,
 * they travel wrapped (`toAiError`) and `fromAiError` unwraps them for agents.
 */
import { LanguageModel, type Prompt } from "@effect/ai"
import * as AiPrompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import type * as Tool from "@effect/ai/Tool"
import { isAiError } from "@effect/ai/AiError"
import {
  Cache,
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberRef,
  JSONSchema,
  Layer,
  LogLevel,
  Option,
  Schema,
  Scope,
  Stream,
  Tracer
} from "effect"
import type * as HttpClient from "@effect/platform/HttpClient"
import { AppConfig, type AppConfigShape, type ProviderName } from "../services/AppConfig.js"
import { CircuitBreaker } from "../services/CircuitBreaker.js"
import { cacheKey, type CacheKeyTool, canonicalJson, LlmCache } from "../services/LlmCache.js"
import {
  countsAsProviderFailure,
  fromAiError,
  isLlmError,
  isRetryable,
  type LlmError,
  MalformedResponse,
  ProviderUnavailable,
  Timeout,
  toAiError
} from "../services/LlmError.js"
import * as Metrics from "../services/Metrics.js"
import { Pricing } from "../services/Pricing.js"
import { keyOf, RateLimiter } from "../services/RateLimiter.js"
import * as Resilience from "../services/Resilience.js"
import * as WorkflowContext from "../services/WorkflowContext.js"
import {
  CircuitStateChanged,
  errorInfo,
  LlmCallFinished,
  LlmCallStarted,
  RateLimited as RateLimitedEvent,
  Retrying,
  unsafeMakeEvent,
  type Usage,
  type WorkflowEvent,
  WorkflowEvents
} from "../services/WorkflowEvents.js"
import { CachePolicy } from "../services/LlmCall.js"
import { applySettings } from "../internal/modelSettings.js"
import * as LlmProvider from "./LlmProvider.js"
import * as ResponseCodec from "../internal/responseCodec.js"
import { type MaybeTimed, timedCall } from "../internal/timeout.js"

/**
 * A model reference: `model` (the configured provider) or `provider:model` for another provider,
 * as `LLM_FALLBACK_MODELS` allows. OpenRouter ids such as `meta-llama/llama-3-8b:free` keep their
 * colon because their prefix is not a provider name.
 */
export const parseModelRef = (
  ref: string,
  defaultProvider: ProviderName
): { readonly provider: ProviderName; readonly model: string } => {
  const colon = ref.indexOf(":")
  if (colon > 0) {
    const prefix = ref.slice(0, colon)
    if (isProviderName(prefix)) return { provider: prefix, model: ref.slice(colon + 1) }
  }
  return { provider: defaultProvider, model: ref }
}

const ProviderNameLiteral = Schema.Literal("openrouter", "openai", "google", "simulated")
// Built once: `Schema.is(...)` compiles a validator on every use.
const isProviderName = Schema.is(ProviderNameLiteral)

/** How the resilient model is put together; `MainLayer` builds this from `AppConfig`. */
export interface Options {
  readonly provider: ProviderName
  /** The model used when the agent asks for none (`LLM_MODEL`). */
  readonly model: string
  /** Tried in order after the primary fails (`LLM_FALLBACK_MODELS`). */
  readonly fallbackModels: ReadonlyArray<string>
  /** Builds the `LanguageModel` of a model reference (see `parseModelRef`); called once per model. */
  readonly makeModel: (ref: string) => Effect.Effect<LanguageModel.Service, never, Scope.Scope>
  /** Display label of a model reference (the simulated provider prefixes `simulated-`). */
  readonly modelLabel?: (model: string) => string
  /** Per-attempt timeout (`LLM_TIMEOUT`). */
  readonly timeout: Duration.Duration
  readonly retry: Resilience.RetryPolicy
  /** Whether successful responses are cached (`CACHE_ENABLED`). */
  readonly cacheEnabled: boolean
}

type Method = "generateText" | "generateObject"

interface Call {
  readonly method: Method
  readonly options: LanguageModel.GenerateTextOptions<any> & { readonly schema?: Schema.Schema<any, any, any> }
  /** The prompt's estimated tokens for the limiter, computed once per call (not per attempt). */
  readonly tokens?: number
}

/** A finished provider call: the response, the model that answered and the attempts it took. */
interface Answer {
  readonly response: LanguageModel.GenerateTextResponse<any>
  readonly model: string
  readonly attempts: number
}

/** A provider call that failed, and the attempts it made on every model before giving up. */
interface Failed {
  readonly error: LlmError
  readonly attempts: number
}

/**
 * Attempts a call has made so far, over all its models: shared by the retries and fallbacks of one
 * call (made only once its first attempt has failed, so a call that succeeds at once never pays for it).
 */
interface AttemptCount {
  attempts: number
}

/** The run / step / agent fields of an event, from the fiber's workflow context. */
const context = (ctx: WorkflowContext.WorkflowContextValue) => ({
  ...(ctx.runId === undefined ? {} : { runId: ctx.runId }),
  ...(ctx.stepId === undefined ? {} : { stepId: ctx.stepId }),
  ...(ctx.agent === undefined ? {} : { agent: ctx.agent })
})

const usageOf = (response: LanguageModel.GenerateTextResponse<any>): Usage => {
  const usage = response.usage
  return { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 }
}

/** OpenRouter reports the cost it charged in the finish part's metadata. */
const providerCost = (response: LanguageModel.GenerateTextResponse<any>): number | undefined => {
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

// JSON schemas of response schemas and toolkits, derived once per schema / toolkit object: an
// agent passes the same objects on every call, and deriving them again is pure waste.
const jsonSchemas = new WeakMap<object, unknown>()
const jsonSchemaOf = (schema: Schema.Schema<any, any, any>): unknown => {
  let found = jsonSchemas.get(schema)
  if (found === undefined) {
    found = JSONSchema.make(schema)
    jsonSchemas.set(schema, found)
  }
  return found
}
const toolkitKeys = new WeakMap<object, ReadonlyArray<CacheKeyTool>>()

/** Tools as far as they change the answer, for the cache key. */
const toolsOf = (options: Call["options"]): ReadonlyArray<CacheKeyTool> | undefined => {
  const toolkit = options.toolkit as { tools?: Record<string, Tool.Any> } | undefined
  if (toolkit === undefined || !("tools" in toolkit) || toolkit.tools === undefined) return undefined
  let found = toolkitKeys.get(toolkit)
  if (found === undefined) {
    found = Object.values(toolkit.tools).map((tool) => ({
      name: tool.name,
      description: tool.description,
      parameters: jsonSchemaOf(tool.parametersSchema)
    }))
    toolkitKeys.set(toolkit, found)
  }
  return found
}

/**
 * Calls whose tools run handlers have side effects a cache hit would skip, so only calls without a
 * toolkit, or with tool-call resolution disabled, are cached.
 */
const isCacheable = (options: Call["options"]): boolean =>
  options.toolkit === undefined || options.disableToolCallResolution === true

// Compiled once; `Schema.encodeSync(schema)` per call rebuilt the encoder every time.
const encodePrompt = Schema.encodeSync(AiPrompt.Prompt)

const tokensOfJson = (encoded: unknown): number => Math.ceil(JSON.stringify(encoded).length / 4)

/**
 * The encoded form of a plain-text prompt, built directly: constructing and encoding the `Prompt`
 * classes costs ~25 µs, more than the rest of a cache hit together. The shape is checked against
 * the real encoder once at startup; if `@effect/ai` ever encodes differently, the slow path is used.
 */
const textPromptJson = (text: string): unknown => ({ content: [{ role: "user", content: text, options: {} }] })
/** `canonicalJson(textPromptJson(text))`, written out (walking and sorting it per call is waste). */
const textPromptCanonical = (text: string): string =>
  `{"content":[{"content":${JSON.stringify(text)},"options":{},"role":"user"}]}`
const textShortcutHolds = (() => {
  const probe = "probe \u00e9 \" {} \n \u2028"
  try {
    const canonical = canonicalJson(encodePrompt(AiPrompt.make(probe)))
    return canonical === canonicalJson(textPromptJson(probe)) && canonical === textPromptCanonical(probe)
  } catch {
    return false
  }
})()

/** The encoded prompt (what the cache key covers) of any prompt input. */
const promptJson = (prompt: Prompt.RawInput): unknown =>
  typeof prompt === "string" && textShortcutHolds ? textPromptJson(prompt) : encodePrompt(AiPrompt.make(prompt))

const estimateTokens = (prompt: Prompt.RawInput): number => tokensOfJson(promptJson(prompt))

/** Recent cache keys remembered (see `cacheKeyOf` in `make`), and the longest prompt worth it. */
const RECENT_KEYS = 1_024
const RECENT_KEY_MAX_CHARS = 4 * 1024

/** A number per response schema object, for the recent-keys memo. */
const schemaIds = new WeakMap<object, number>()
let nextSchemaId = 0
const schemaIdOf = (schema: object): number => {
  let id = schemaIds.get(schema)
  if (id === undefined) {
    id = nextSchemaId++
    schemaIds.set(schema, id)
  }
  return id
}

/** Decoded cache values kept for reuse, and the largest value worth keeping. */
const DECODED_ENTRIES = 1_024
const DECODED_MAX_CHARS = 64 * 1024

/** Events are built here from values already in the right shape; re-validating them is waste. */
const trusted = { disableValidation: true } as const

/** The metrics of one agent and model, tagged once (tagging copies and re-hashes every tag). */
interface CallMetrics {
  readonly success: Metrics.FixedTagged<number>
  readonly error: Metrics.FixedTagged<number>
  readonly duration: Metrics.FixedTagged<number>
  readonly genAiDuration: Metrics.FixedTagged<number>
  readonly inputTokens: Metrics.FixedTagged<number>
  readonly outputTokens: Metrics.FixedTagged<number>
  readonly cost: Metrics.FixedTagged<number>
  readonly genAiInputTokens: Metrics.FixedTagged<number>
  readonly genAiOutputTokens: Metrics.FixedTagged<number>
}

/** How a logical call ended, for `LlmCallFinished`, the metrics and the log. */
interface Outcome {
  readonly model: string
  readonly cached: boolean
  readonly attempts: number
  readonly usage: Usage
  readonly costUsd: number
  readonly started: number
  readonly error: LlmError | undefined
}

/** A model reference resolved once: provider, model id, display label and limiter/breaker key. */
interface ResolvedModel {
  readonly provider: ProviderName
  readonly model: string
  readonly label: string
  readonly key: string
}

/** Counts only failures the provider is to blame for against a circuit. */
const breakerOptions = { isFailure: countsAsProviderFailure } as const

const makeCallMetrics = (agent: string, model: string, provider: string): CallMetrics => {
  const tags = { agent, model }
  const genAi = { gen_ai_operation_name: "chat", gen_ai_provider_name: provider, gen_ai_request_model: model }
  return {
    success: Metrics.fixedTags(Metrics.llmRequestsTotal, { ...tags, status: "success" }),
    error: Metrics.fixedTags(Metrics.llmRequestsTotal, { ...tags, status: "error" }),
    duration: Metrics.fixedTags(Metrics.llmRequestDurationSeconds, tags),
    genAiDuration: Metrics.fixedTags(Metrics.genAiClientOperationDuration, genAi),
    inputTokens: Metrics.fixedTags(Metrics.llmTokensTotal, { ...tags, type: "input" }),
    outputTokens: Metrics.fixedTags(Metrics.llmTokensTotal, { ...tags, type: "output" }),
    cost: Metrics.fixedTags(Metrics.llmCostUsdTotal, tags),
    genAiInputTokens: Metrics.fixedTags(Metrics.genAiClientTokenUsage, { ...genAi, gen_ai_token_type: "input" }),
    genAiOutputTokens: Metrics.fixedTags(Metrics.genAiClientTokenUsage, { ...genAi, gen_ai_token_type: "output" })
  }
}

// A captured stack trace per call is a visible share of a cache hit; the span's name already
// says where it comes from.
const spanOptions = { captureStackTrace: false } as const

/** Effect's built-in tracer, which keeps spans in memory only and exports them nowhere. */
const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/**
 * `self` in a span named `name`, when a tracer that exports spans is installed. Under Effect's
 * built-in tracer a span is seen by no one, yet it was the largest single cost of a cache hit
 * (~12 µs: span, clock reads, a context copy for the parent), so it is skipped there.
 */
const traced = <A, E, R>(name: string, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) =>
    Context.get(fiber.currentDefaultServices, Tracer.Tracer) === nativeTracer || !fiber.getFiberRef(FiberRef.currentTracerEnabled)
      ? self
      : Effect.withSpan(self, name, spanOptions)
  )

/** Builds the resilient `LanguageModel` service. */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const cache = yield* LlmCache
    const limiter = yield* RateLimiter
    const breaker = yield* CircuitBreaker
    const events = yield* WorkflowEvents
    const pricing = yield* Pricing
    const scope = yield* Effect.scope
    const labelOf = options.modelLabel ?? ((m: string) => m)
    // What a model reference resolves to never changes: resolve each once.
    const refs = new Map<string, ResolvedModel>()
    const resolve = (ref: string): ResolvedModel => {
      let found = refs.get(ref)
      if (found === undefined) {
        const parsed = parseModelRef(ref, options.provider)
        found = { ...parsed, label: labelOf(ref), key: keyOf(parsed.provider, parsed.model) }
        refs.set(ref, found)
      }
      return found
    }
    const label = (ref: string): string => resolve(ref).label
    const providerOf = (ref: string): ProviderName => resolve(ref).provider
    // Tagged metrics per agent and model (both bounded sets: metric labels never hold ids or prompts), built on first use.
    const metricsByCall = new Map<string, CallMetrics>()
    const callMetrics = (agent: string, ref: string): CallMetrics => {
      const id = `${agent}\u0000${ref}`
      let found = metricsByCall.get(id)
      if (found === undefined) {
        found = makeCallMetrics(agent, label(ref), providerOf(ref))
        metricsByCall.set(id, found)
      }
      return found
    }
    const retryMetrics = new Map<string, (n: number) => Effect.Effect<void>>()
    const retryMetric = (agent: string, ref: string, reason: string): (n: number) => Effect.Effect<void> => {
      const id = `${agent}\u0000${ref}\u0000${reason}`
      let found = retryMetrics.get(id)
      if (found === undefined) {
        found = Metrics.fixedTags(Metrics.llmRetriesTotal, { agent, model: label(ref), reason })
        retryMetrics.set(id, found)
      }
      return found
    }

    // Decoded responses by cache key, with the value they were decoded from: a hit on an entry
    // read before reuses the decoded response instead of parsing the same text again (the
    // parse is the largest cost of a hit). Insertion-ordered, oldest dropped beyond the bound.
    const decodedValues = new Map<string, { readonly value: string; readonly response: LanguageModel.GenerateTextResponse<{}> }>()
    const remember = (key: string, value: string, response: LanguageModel.GenerateTextResponse<{}>): void => {
      if (value.length > DECODED_MAX_CHARS) return
      decodedValues.delete(key)
      decodedValues.set(key, { value, response })
      if (decodedValues.size > DECODED_ENTRIES) {
        const oldest = decodedValues.keys().next()
        if (oldest.done !== true) decodedValues.delete(oldest.value)
      }
    }
    const decodeValue = (key: string, value: string): Effect.Effect<Option.Option<LanguageModel.GenerateTextResponse<{}>>> => {
      const known = decodedValues.get(key)
      if (known !== undefined && known.value === value) return Effect.succeed(Option.some(known.response))
      return Effect.tap(ResponseCodec.decode(value), (decoded) => {
        if (Option.isSome(decoded)) remember(key, value, decoded.value)
      })
    }

    // Provider clients per model (primary, fallbacks, agents' own), built on first use and kept
    // for the life of the layer.
    const models = yield* Cache.make({
      capacity: 64,
      timeToLive: Duration.infinity,
      lookup: (model: string) => Scope.extend(options.makeModel(model), scope)
    })
    // Built services, so an attempt skips the Cache's bookkeeping once its model exists.
    const built = new Map<string, LanguageModel.Service>()
    const modelFor = (model: string): Effect.Effect<LanguageModel.Service> => {
      const found = built.get(model)
      return found !== undefined
        ? Effect.succeed(found)
        : Effect.tap(models.get(model), (service) => Effect.sync(() => built.set(model, service)))
    }

    // Breaker transitions become events for the dashboard and the history's event log.
    yield* breaker.changes.pipe(
      Stream.runForEach((change) =>
        Effect.flatMap(Clock.currentTimeMillis, (at) =>
          events.publish(
            new CircuitStateChanged({
              breaker: change.breaker,
              from: change.from,
              to: change.to,
              ...(change.retryAt === undefined ? {} : { retryAt: change.retryAt }),
              at
            })
          ))
      ),
      Effect.forkIn(scope)
    )

    // Flights of `singleFlight` by cache key. Followers register a callback on the leader's flight
    // (no Deferred is made unless someone actually waits).
    interface Flight {
      waiters: Set<(exit: Exit.Exit<Answer, Failed>) => void> | undefined
    }
    const inFlight = new Map<string, Flight>()

    /**
     * Publishes `event` for the fiber whose context is `ctx`: at once when the bus can, else
     * through `publish`. Call it only as the returned effect is about to run (from inside a
     * running effect), since the event may be out before then.
     */
    const publishNow = (event: WorkflowEvent, ctx: WorkflowContext.WorkflowContextValue): Effect.Effect<void> =>
      events.unsafePublish?.(event, ctx) === true ? Effect.void : events.publish(event)

    /** One attempt on one model: limiter → timeout → provider, mapped to `LlmError`. */
    const attempt = (call: Call, model: string, attemptNo: number): Effect.Effect<LanguageModel.GenerateTextResponse<any>, LlmError> => {
      const ref = resolve(model)
      return Effect.flatMap(
        limiter.acquire(ref.key, { requests: 1, tokens: call.tokens ?? estimateTokens(call.options.prompt) }),
        (waited) =>
          Effect.withFiberRuntime((fiber) => {
            const ctx = fiber.getFiberRef(WorkflowContext.ref)
            const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
            const limited = Duration.greaterThan(waited, Duration.zero)
              ? publishNow(
                unsafeMakeEvent(RateLimitedEvent, {
                  ...(ctx.runId === undefined ? {} : { runId: ctx.runId }),
                  ...(ctx.stepId === undefined ? {} : { stepId: ctx.stepId }),
                  key: ref.key,
                  waitMs: Duration.toMillis(waited),
                  at: now
                }),
                ctx
              )
              : Effect.void
            const started = publishNow(
              unsafeMakeEvent(LlmCallStarted, {
                ...context(ctx),
                model: ref.label,
                provider: ref.provider,
                attempt: attemptNo,
                at: now
              }),
              ctx
            )
            const announced = limited === Effect.void ? started : Effect.zipRight(limited, started)
            const service = built.get(model)
            const run = (service: LanguageModel.Service) =>
              (applySettings(ref.provider, ctx.settings)(
                timedCall(service as unknown as MaybeTimed, call.method, call.options, options.timeout, () =>
                  new Timeout({ provider: ref.provider, model: ref.label, timeoutMs }))
              ) as Effect.Effect<LanguageModel.GenerateTextResponse<any>, unknown>).pipe(Effect.catchAll((cause) => {
                const error: LlmError = isLlmError(cause)
                  ? cause
                  : isAiError(cause)
                  ? fromAiError(cause, { provider: ref.provider, model: ref.label }, now)
                  : new ProviderUnavailable({ provider: ref.provider, model: ref.label, detail: String(cause) })
                return error._tag === "RateLimited" && error.retryAfterMs !== undefined
                  ? Effect.zipRight(limiter.feedback(ref.key, Duration.millis(error.retryAfterMs)), Effect.fail(error))
                  : Effect.fail(error)
              }))
            const answered = service !== undefined ? run(service) : Effect.flatMap(modelFor(model), run)
            return announced === Effect.void ? answered : Effect.zipRight(announced, answered)
          })
      )
    }

    // The per-attempt timeout (see `internal/timeout.ts` for why not `Effect.timeoutFail`).
    const timeoutMs = Duration.toMillis(options.timeout)

    /**
     * All attempts on one model: retry around breaker around one attempt. `count` holds the call's
     * attempts so far on every model; an attempt counts once the breaker lets it through (a refusal
     * reaches no provider). `startedAt`: the call's start, when this is its first model (the retry
     * budget's start). `firstFailure`: attempt 1 already ran (see `singleFlight`) and failed with it.
     */
    const onModel = (
      call: Call,
      model: string,
      count: AttemptCount,
      startedAt?: number,
      firstFailure?: { readonly error: LlmError }
    ): Effect.Effect<Answer, LlmError> => {
      const key = resolve(model).key
      const counted = Effect.suspend(() => attempt(call, model, ++count.attempts))
      return Effect.map(
        Resilience.retryLlm(
          // Built per attempt: the breaker decides admission as the effect is made.
          Effect.suspend(() => breaker.withBreaker(key, counted, breakerOptions)),
          options.retry,
          {
            ...(startedAt === undefined ? {} : { startedAt }),
            ...(firstFailure === undefined ? {} : { firstFailure }),
            onRetry: ({ attempt: n, delay, error, reason }) =>
              Effect.gen(function*() {
                const ctx = yield* WorkflowContext.current
                yield* retryMetric(ctx.agent ?? "none", model, reason)(1)
                yield* events.publish(
                  new Retrying({
                    ...context(ctx),
                    model: label(model),
                    attempt: n,
                    delayMs: Duration.toMillis(delay),
                    reason,
                    at: yield* Clock.currentTimeMillis
                  }, trusted)
                )
                yield* Effect.logWarning("LLM attempt failed; retrying").pipe(
                  Effect.annotateLogs({
                    model: label(model),
                    attempt: count.attempts,
                    reason: error.message,
                    delayMs: Duration.toMillis(delay)
                  })
                )
              })
          }
        ),
        (response): Answer => ({ response, model, attempts: count.attempts })
      )
    }

    /**
     * The primary model, then each fallback while the failure is the provider's; `count` adds up the
     * attempts on all of them. `firstFailure`: the primary's first attempt already ran and failed
     * with it (see `onModel`).
     */
    const withFallbacks = (
      call: Call,
      primary: string,
      startedAt: number,
      count: AttemptCount,
      firstFailure?: { readonly error: LlmError }
    ): Effect.Effect<Answer, LlmError> => {
      if (options.fallbackModels.length === 0) return onModel(call, primary, count, startedAt, firstFailure)
      const chain = [primary, ...options.fallbackModels.filter((m) => m !== primary)]
      const go = (index: number): Effect.Effect<Answer, LlmError> =>
        (index === 0 ? onModel(call, primary, count, startedAt, firstFailure) : onModel(call, chain[index]!, count)).pipe(
          Effect.catchIf(
            (error) => index + 1 < chain.length && (isRetryable(error) || error._tag === "CircuitOpen"),
            (error) =>
              Effect.logWarning("LLM model failed; falling back").pipe(
                Effect.annotateLogs({
                  model: label(chain[index]!),
                  next: label(chain[index + 1]!),
                  attempt: count.attempts,
                  reason: error.message
                }),
                Effect.zipRight(go(index + 1))
              )
          )
        )
      return go(0)
    }

    /** A follower of `key`'s flight: it gets the leader's exit as it is, an interruption included. */
    const follow = (flight: Flight): Effect.Effect<Answer, Failed> =>
      Effect.async<Answer, Failed>((resume) => {
        const waiter = (exit: Exit.Exit<Answer, Failed>) => resume(exit)
        const waiters = flight.waiters ??= new Set()
        waiters.add(waiter)
        return Effect.sync(() => {
          waiters.delete(waiter)
        })
      })

    /**
     * Single-flight: identical requests in flight share one provider call. The first becomes the
     * leader of `key`'s flight and runs every attempt and fallback of the call; its exit is handed
     * to the followers however it ends (an interrupted leader must not leave them waiting forever).
     *
     * The leader's first attempt on the primary model runs bare — breaker, limiter, timeout, provider —
     * and only a failure brings in the retry and fallback machinery, continuing as if it had run
     * from the start (`firstFailure`). Most calls succeed at once, and that machinery (retry
     * bookkeeping, fallback chain, a second exit handler) was a sixth of the layer's cost per call.
     * The flight is registered and its exit handler installed in one uninterruptible step, as
     * `Effect.onExit` would, so no interruption can leave a flight without its leader.
     */
    const singleFlight = (key: string, call: Call, model: string, startedAt: number): Effect.Effect<Answer, Failed> =>
      Effect.uninterruptibleMask((restore) => {
        const existing = inFlight.get(key)
        if (existing !== undefined) return restore(follow(existing))
        const flight: Flight = { waiters: undefined }
        inFlight.set(key, flight)
        const land = (exit: Exit.Exit<Answer, Failed>): Exit.Exit<Answer, Failed> => {
          inFlight.delete(key)
          if (flight.waiters !== undefined) for (const waiter of flight.waiters) waiter(exit)
          return exit
        }
        const first = breaker.withBreaker(resolve(model).key, attempt(call, model, 1), breakerOptions)
        return Effect.matchCauseEffect(restore(first), {
          onSuccess: (response) => land(Exit.succeed({ response, model, attempts: 1 })),
          onFailure: (cause) => {
            const failure = Cause.failureOption(cause)
            // No failure (a defect or an interruption): there is no error to count attempts for.
            if (Option.isNone(failure)) return land(Exit.failCause(Cause.map(cause, (error): Failed => ({ error, attempts: 1 }))))
            // An open circuit refuses before the provider is reached: that is no attempt.
            const count: AttemptCount = { attempts: failure.value._tag === "CircuitOpen" ? 0 : 1 }
            return Effect.onExit(
              restore(Effect.mapError(
                withFallbacks(call, model, startedAt, count, { error: failure.value }),
                (error): Failed => ({ error, attempts: count.attempts })
              )),
              (exit) => Effect.sync(() => land(exit))
            )
          }
        })
      })

    /** The structured value of a response (a cache hit stores only the parts). */
    const asObject = (
      call: Call,
      response: LanguageModel.GenerateTextResponse<any>
    ): Effect.Effect<LanguageModel.GenerateObjectResponse<any, unknown>, LlmError> =>
      response instanceof LanguageModel.GenerateObjectResponse || call.options.schema === undefined
        ? Effect.succeed(response as LanguageModel.GenerateObjectResponse<any, unknown>)
        : Schema.decodeUnknown(Schema.parseJson(call.options.schema as Schema.Schema<unknown, unknown, never>))(response.text).pipe(
          Effect.map((value) => new LanguageModel.GenerateObjectResponse(value, response.content)),
          Effect.mapError((error) =>
            new MalformedResponse({ provider: options.provider, model: label(options.model), raw: response.text, detail: error.message })
          )
        )

    // Cache keys of recent plain-text calls, by model, settings, schema and prompt text: asking the
    // same question again (the cache-hit case) skips canonicalising and hashing it (~3 µs of a
    // ~17 µs hit). Bounded in entries and in prompt length; oldest dropped first.
    const recentKeys = new Map<string, string>()
    const cacheKeyOf = (
      call: Call,
      ctx: WorkflowContext.WorkflowContextValue,
      ref: ResolvedModel,
      encoded: unknown
    ): string => {
      const derive = () =>
        cacheKey({
          provider: ref.provider,
          model: ref.model,
          settings: ctx.settings as Record<string, unknown> | undefined,
          prompt: encoded,
          promptCanonical: typeof call.options.prompt === "string" && textShortcutHolds
            ? textPromptCanonical(call.options.prompt)
            : undefined,
          tools: toolsOf(call.options),
          responseSchema: call.options.schema === undefined ? undefined : jsonSchemaOf(call.options.schema)
        })
      const prompt = call.options.prompt
      if (typeof prompt !== "string" || prompt.length > RECENT_KEY_MAX_CHARS || call.options.toolkit !== undefined) return derive()
      const memo = `${ref.key}\u0000${ctx.settings === undefined ? "" : canonicalJson(ctx.settings)}\u0000${
        call.options.schema === undefined ? "" : schemaIdOf(call.options.schema)
      }\u0000${prompt}`
      let key = recentKeys.get(memo)
      if (key === undefined) {
        key = derive()
        recentKeys.set(memo, key)
        if (recentKeys.size > RECENT_KEYS) recentKeys.delete(recentKeys.keys().next().value!)
      }
      return key
    }

    /**
     * The whole call: cache lookup, single-flight, fallbacks, events and metrics. The fiber's
     * context, cache policy and clock are read once, synchronously, at the start.
     */
    const perform = (call: Call): Effect.Effect<LanguageModel.GenerateTextResponse<any>, LlmError> =>
      Effect.withFiberRuntime((fiber) => {
        const ctx = fiber.getFiberRef(WorkflowContext.ref)
        const model = ctx.model ?? options.model
        const ref = resolve(model)
        const started = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
        const policy = Context.get(fiber.currentContext, CachePolicy)
        const cacheable = options.cacheEnabled && isCacheable(call.options) && policy !== "bypass"
        // The prompt is encoded once: for the key and the limiter's token estimate.
        const encoded = promptJson(call.options.prompt)
        const key = cacheKeyOf(call, ctx, ref, encoded)
        const miss = () => performMiss(fiber, call, ctx, model, key, encoded, started, cacheable)
        if (!(cacheable && policy === "use")) return miss()
        const onHit = (response: LanguageModel.GenerateTextResponse<{}>) =>
          Effect.as(
            finishedOn(fiber, ctx, { model, cached: true, attempts: 0, usage: usageOf(response), costUsd: 0, started, error: undefined }),
            response
          )
        const onValue = (value: Option.Option<string>) => {
          if (Option.isNone(value)) return miss()
          const known = decodedValues.get(key)
          if (known !== undefined && known.value === value.value) return onHit(known.response)
          return Effect.flatMap(decodeValue(key, value.value), (hit) => Option.isSome(hit) ? onHit(hit.value) : miss())
        }
        return Effect.flatMap(cache.get(key), onValue)
      })

    /** A call the cache did not answer: the provider (single-flight), then the cache write. */
    const performMiss = (
      // The fiber running the call (`perform`'s): the whole call, waiting included, runs on it.
      fiber: Fiber.RuntimeFiber<unknown, unknown>,
      call: Call,
      ctx: WorkflowContext.WorkflowContextValue,
      model: string,
      key: string,
      encoded: unknown,
      started: number,
      cacheable: boolean
    ): Effect.Effect<LanguageModel.GenerateTextResponse<any>, LlmError> => {
      const prepared: Call = { method: call.method, options: call.options, tokens: tokensOfJson(encoded) }
      const onFailure = (cause: Cause.Cause<Failed>) => {
        const failed = Cause.failureOption(cause)
        const errors = Cause.map(cause, (f) => f.error)
        if (Option.isNone(failed)) return Effect.failCause(errors)
        return Effect.zipRight(
          finishedOn(fiber, ctx, {
            model,
            cached: false,
            attempts: failed.value.attempts,
            usage: { inputTokens: 0, outputTokens: 0 },
            costUsd: 0,
            started,
            error: failed.value.error
          }),
          Effect.failCause(errors)
        )
      }
      const onSuccess = (answer: Answer) => {
        const usage = usageOf(answer.response)
        return Effect.flatMap(
          pricing.cost(label(answer.model), usage, { providerCostUsd: providerCost(answer.response) }),
          (costUsd) => {
            const done = finishedOn(fiber, ctx, {
              model: answer.model,
              cached: false,
              attempts: answer.attempts,
              usage,
              costUsd,
              started,
              error: undefined
            })
            const value = cacheable ? ResponseCodec.unsafeEncode(answer.response) : Option.none()
            if (Option.isNone(value)) return Effect.as(done, answer.response)
            remember(key, value.value, answer.response)
            // `done` is usually finished already (`Effect.void`): then one step less.
            const stored = cache.set(key, value.value)
            return Effect.as(done === Effect.void ? stored : Effect.zipRight(done, stored), answer.response)
          }
        )
      }
      return Effect.matchCauseEffect(singleFlight(key, prepared, model, started), { onFailure, onSuccess })
    }

    /** Publishes `LlmCallFinished` and records the call's metrics and log line, on the call's fiber. */
    const finishedOn = (
      fiber: Fiber.RuntimeFiber<unknown, unknown>,
      ctx: WorkflowContext.WorkflowContextValue,
      call: Outcome
    ): Effect.Effect<void> => {
      const now = Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
      const durationMs = Math.max(0, now - call.started)
      const ref = resolve(call.model)
      const model = ref.label
      const agent = ctx.agent ?? "none"
      const status = call.error === undefined ? "success" : "error"
      const metrics = callMetrics(agent, call.model)
      const published = publishNow(unsafeMakeEvent(LlmCallFinished, {
        ...context(ctx),
        model,
        provider: ref.provider,
        cached: call.cached,
        attempt: call.attempts,
        usage: call.usage,
        costUsd: call.costUsd,
        durationMs,
        status,
        ...(call.error === undefined ? {} : { error: errorInfo(call.error) }),
        at: now
      }), ctx)
      const counted = call.error === undefined ? metrics.success : metrics.error
      const tokens = !call.cached && call.error === undefined
      // Without fiber metric labels (the usual case) the metrics are updated here and now: this
      // runs as the call finishes (from inside its running effect), like the event above.
      const unlabelled = fiber.getFiberRef(FiberRef.currentMetricLabels).length === 0
      if (unlabelled) {
        counted.unsafeUpdate(1)
        metrics.duration.unsafeUpdate(durationMs / 1000)
        metrics.genAiDuration.unsafeUpdate(durationMs / 1000)
        if (tokens) {
          metrics.inputTokens.unsafeUpdate(call.usage.inputTokens)
          metrics.outputTokens.unsafeUpdate(call.usage.outputTokens)
          metrics.cost.unsafeUpdate(call.costUsd)
          metrics.genAiInputTokens.unsafeUpdate(call.usage.inputTokens)
          metrics.genAiOutputTokens.unsafeUpdate(call.usage.outputTokens)
        }
      }
      const done = unlabelled ? published : Effect.zipRight(
        published,
        Effect.all([
          counted(1),
          metrics.duration(durationMs / 1000),
          metrics.genAiDuration(durationMs / 1000),
          ...(tokens
            ? [
              metrics.inputTokens(call.usage.inputTokens),
              metrics.outputTokens(call.usage.outputTokens),
              metrics.cost(call.costUsd),
              metrics.genAiInputTokens(call.usage.inputTokens),
              metrics.genAiOutputTokens(call.usage.outputTokens)
            ]
            : [])
        ], { discard: true })
      )
      // A success logs at DEBUG, usually filtered out: then skip building its annotations.
      if (call.error === undefined && LogLevel.greaterThan(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), LogLevel.Debug)) {
        return done
      }
      const log = call.error === undefined ? Effect.logDebug("LLM call finished") : Effect.logWarning("LLM call failed")
      return Effect.zipRight(
        done,
        log.pipe(
          Effect.annotateLogs({
            model,
            cached: call.cached,
            attempts: call.attempts,
            durationMs,
            inputTokens: call.usage.inputTokens,
            outputTokens: call.usage.outputTokens,
            costUsd: call.costUsd,
            ...(call.error === undefined ? {} : { error: call.error._tag, reason: call.error.message })
          })
        )
      )
    }

    const service: LanguageModel.Service = {
      generateText: ((callOptions: Call["options"]) =>
        traced(
          "LanguageModel.generateText",
          Effect.mapError(perform({ method: "generateText", options: callOptions }), (e) => toAiError(e, "generateText"))
        )) as unknown as LanguageModel.Service["generateText"],
      generateObject: ((callOptions: Call["options"]) => {
        const call: Call = { method: "generateObject", options: callOptions }
        return traced(
          "LanguageModel.generateObject",
          perform(call).pipe(
            Effect.flatMap((response) => asObject(call, response)),
            Effect.mapError((e) => toAiError(e, "generateObject"))
          )
        )
      }) as unknown as LanguageModel.Service["generateObject"],
      // Streams are not cached or retried (a partial stream cannot be replayed); they still go
      // through the breaker and the limiter of the primary model.
      streamText: ((callOptions: Call["options"]) =>
        Stream.unwrap(
          Effect.gen(function*() {
            const ctx = yield* WorkflowContext.current
            const model = ctx.model ?? options.model
            const key = resolve(model).key
            yield* limiter.acquire(key, { requests: 1, tokens: estimateTokens(callOptions.prompt) })
            const inner = yield* modelFor(model)
            return inner.streamText(callOptions as any)
          })
        )) as unknown as LanguageModel.Service["streamText"]
    }
    return service
  })

/**
 * The call budget of a policy: every attempt running to its timeout plus every backoff at its cap.
 * A `Retry-After` that would end past it fails fast with `RetryBudgetExceeded`.
 */
export const callBudget = (config: AppConfigShape): Duration.Duration =>
  Duration.sum(
    Duration.times(config.llm.timeout, config.retry.maxRetries + 1),
    Duration.times(config.retry.maxWait, config.retry.maxRetries)
  )

/** The options `AppConfig` asks for, with the provider adapters of `LlmProvider`. */
export const optionsFromConfig = (
  config: AppConfigShape
): Effect.Effect<Options, never, HttpClient.HttpClient> =>
  Effect.map(Effect.context<HttpClient.HttpClient>(), (context) => ({
    provider: config.llm.provider,
    model: config.llm.model,
    fallbackModels: config.llm.fallbackModels,
    makeModel: (ref: string) => {
      const { model, provider } = parseModelRef(ref, config.llm.provider)
      const target = { ...config, llm: { ...config.llm, provider } }
      return LlmProvider.makeModel(target, model).pipe(Effect.provide(context))
    },
    modelLabel: (ref: string) => {
      const { model, provider } = parseModelRef(ref, config.llm.provider)
      const shown = LlmProvider.modelLabel({ ...config, llm: { ...config.llm, provider } }, model)
      return provider === config.llm.provider ? shown : `${provider}:${shown}`
    },
    timeout: config.llm.timeout,
    retry: { ...Resilience.policyFromConfig(config), budget: callBudget(config) },
    cacheEnabled: config.cache.enabled
  }))

/** The HTTP client the provider adapters run on (undici with keep-alive). */
export const httpClientLayer = LlmProvider.layerHttpClient

/** The resilient `LanguageModel` of the configured provider (undici HTTP client included). */
export const layer: Layer.Layer<
  LanguageModel.LanguageModel,
  never,
  AppConfig | LlmCache | RateLimiter | CircuitBreaker | WorkflowEvents | Pricing
> = Layer.scoped(
  LanguageModel.LanguageModel,
  Effect.flatMap(AppConfig, (config) => Effect.flatMap(optionsFromConfig(config), make))
).pipe(Layer.provide(LlmProvider.layerHttpClient))
