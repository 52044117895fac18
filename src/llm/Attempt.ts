/**
 * Attempt — one try of a call on one model: the circuit breaker admits it, the rate limiter grants
 * a permit (a wait is published), the attempt is announced, and the model answers (within the
 * per-attempt deadline its `ModelFactory` keeps) — inside the attempt's span when spans are
 * exported (`CallSpans`). Whatever it fails with becomes an `LlmError`; a 429's `Retry-After`
 * pauses every caller of the model's limiter key.
 */
import type { LanguageModel } from "@effect/ai"
import { isAiError } from "@effect/ai/AiError"
import { Duration, Effect, type Tracer } from "effect"
import type { CircuitBreakerService } from "../services/CircuitBreaker.js"
import {
  countsAsProviderFailure,
  fromAiError,
  isLlmError,
  type LlmError,
  ProviderUnavailable
} from "../services/LlmError.js"
import type { ModelRef } from "../services/ModelFactory.js"
import type { RateLimiterService } from "../services/RateLimiter.js"
import { tracedWith } from "../internal/tracing.js"
import type { Call } from "./Call.js"
import * as CallSpans from "./CallSpans.js"
import type { CallTelemetry } from "./CallTelemetry.js"
import type { Models } from "./Models.js"

export type Response = LanguageModel.GenerateTextResponse<{}>

/**
 * The attempts a call has made so far, over all its models. An attempt counts once the breaker lets
 * it through: a refusal reaches no provider.
 */
export interface Count {
  attempts: number
}

/** One attempt of `call` on `model`, counted in `count`. */
export type Attempt = (call: Call, model: ModelRef, count: Count) => Effect.Effect<Response, LlmError>

export interface AttemptStages {
  readonly breaker: CircuitBreakerService
  readonly limiter: RateLimiterService
  readonly models: Models
  readonly telemetry: CallTelemetry
}

/** Counts only failures the provider is to blame for against a circuit. */
const breakerOptions = { isFailure: countsAsProviderFailure } as const

/** Any failure of `model` as an `LlmError`; a rate limit with `Retry-After` also pauses its key. */
export const failure = (limiter: RateLimiterService, call: Call, model: ModelRef) =>
(cause: unknown): Effect.Effect<never, LlmError> => {
  const context = { provider: model.provider, model: model.label }
  const error: LlmError = isLlmError(cause)
    ? cause
    : isAiError(cause)
    ? fromAiError(cause, context, call.clock.unsafeCurrentTimeMillis())
    : new ProviderUnavailable({ ...context, detail: String(cause) })
  return error._tag === "RateLimited" && error.retryAfterMs !== undefined
    ? Effect.zipRight(limiter.feedback(model.key, Duration.millis(error.retryAfterMs)), Effect.fail(error))
    : Effect.fail(error)
}

/**
 * What an attempt does once admitted: `request` asks the model (its failures already `LlmError`s);
 * `answered` tells the attempt's span about the answer.
 */
export interface Request<A> {
  readonly request: (call: Call, model: ModelRef, service: LanguageModel.Service) => Effect.Effect<A, LlmError>
  readonly answered: (span: Tracer.Span, answer: A) => void
}

/** Attempts that make `request`: breaker, limiter, announcement and span around it. */
export const makeWith = <A>(stages: AttemptStages, { answered, request }: Request<A>) => {
  const { breaker, limiter, models, telemetry } = stages
  const asked = (call: Call, model: ModelRef): Effect.Effect<A, LlmError> => {
    const service = models.built(model)
    return service !== undefined ? request(call, model, service) : Effect.flatMap(models.get(model), (built) => request(call, model, built))
  }

  const unguarded = (call: Call, model: ModelRef, count: Count): Effect.Effect<A, LlmError> =>
    Effect.flatMap(limiter.acquire(model.key, { requests: 1, tokens: call.tokens }), (waited) => {
      const attempt = count.attempts
      const started = telemetry.started(call, model, attempt)
      const announced = Duration.greaterThan(waited, Duration.zero)
        ? Effect.zipRight(telemetry.limited(call, model, waited), started)
        : started
      return Effect.zipRight(
        announced,
        tracedWith(
          CallSpans.attemptName(model),
          () => CallSpans.attemptOptions(call, model, attempt, waited),
          (span) =>
            span === undefined
              ? asked(call, model)
              : Effect.tap(asked(call, model), (answer) => answered(span, answer))
        )
      )
    })

  // Made per run (retries run the same effect again): the breaker decides admission as it is made.
  return (call: Call, model: ModelRef, count: Count): Effect.Effect<A, LlmError> =>
    Effect.suspend(() =>
      breaker.withBreaker(
        model.key,
        Effect.suspend(() => {
          count.attempts += 1
          return unguarded(call, model, count)
        }),
        breakerOptions
      )
    )
}

export const make = (stages: AttemptStages): Attempt => {
  const { limiter, models } = stages
  const ask = (call: Call, model: ModelRef, service: LanguageModel.Service): Effect.Effect<Response, unknown> =>
    call.ctx.settings === undefined ? call.ask(service) : models.withSettings(model, call.ctx.settings)(call.ask(service))
  return makeWith(stages, {
    request: (call, model, service) => Effect.catchAll(ask(call, model, service), failure(limiter, call, model)),
    answered: CallSpans.attemptAnswered
  })
}
