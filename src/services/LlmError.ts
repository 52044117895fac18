/**
 * LlmError — the typed failures of an LLM call, whatever the provider.
 *
 * Provider Layers fail with `@effect/ai`'s `AiError`; the resilient layer maps it with `fromAiError`
 * into these short tags, which say what a caller can do about it (retry, wait, fix the key, fix the
 * request). None of them carries request headers, so an API key can never leak through an error.
 */
import type { AiError } from "@effect/ai"
import * as AiErrors from "@effect/ai/AiError"
import { Duration, Option, ParseResult, Schema } from "effect"
import type { BudgetExceeded } from "./Budget.js"

const Context = {
  provider: Schema.String,
  model: Schema.String
}

/** The provider answered 429; `retryAfterMs` is its `Retry-After`, when it sent one. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  ...Context,
  retryAfterMs: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    const wait = this.retryAfterMs === undefined ? "" : `; retry after ${Math.ceil(this.retryAfterMs / 1000)}s`
    return `${this.provider} rate-limited ${this.model}${wait}`
  }
}

/** The provider could not serve the call: a 5xx, 408, a refused or reset connection. */
export class ProviderUnavailable extends Schema.TaggedError<ProviderUnavailable>()("ProviderUnavailable", {
  ...Context,
  status: Schema.optional(Schema.Number),
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.provider} unavailable for ${this.model}${this.status === undefined ? "" : ` (HTTP ${this.status})`}: ${this.detail}`
  }
}

/** One attempt took longer than `LLM_TIMEOUT`. */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  ...Context,
  timeoutMs: Schema.Number
}) {
  override get message(): string {
    return `${this.provider} did not answer ${this.model} within ${this.timeoutMs} ms`
  }
}

/** The circuit of `breaker` is open; calls fail fast until `retryAt` (epoch ms). */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  breaker: Schema.String,
  retryAt: Schema.Number
}) {
  override get message(): string {
    return `circuit ${this.breaker} is open until ${new Date(this.retryAt).toISOString()}`
  }
}

/** 401 or 403: the key is missing, wrong or lacks access. Never retried. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  ...Context,
  status: Schema.Number
}) {
  override get message(): string {
    return `${this.provider} refused the credentials for ${this.model} (HTTP ${this.status}); check the API key`
  }
}

/** 400, 404, 422 and other client errors: the request itself is wrong. Never retried. */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  ...Context,
  status: Schema.optional(Schema.Number),
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.provider} rejected the request for ${this.model}${this.status === undefined ? "" : ` (HTTP ${this.status})`}: ${this.detail}`
  }
}

/** The provider answered something that is not a valid response; `raw` keeps what it sent. */
export class MalformedResponse extends Schema.TaggedError<MalformedResponse>()("MalformedResponse", {
  ...Context,
  raw: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.provider} sent a malformed response for ${this.model}: ${this.detail}`
  }
}

/** A `Retry-After` asked for a longer wait than the call's time budget allows. */
export class RetryBudgetExceeded extends Schema.TaggedError<RetryBudgetExceeded>()("RetryBudgetExceeded", {
  ...Context,
  retryAfterMs: Schema.Number,
  budgetMs: Schema.Number
}) {
  override get message(): string {
    return `${this.provider} asked to wait ${Math.ceil(this.retryAfterMs / 1000)}s for ${this.model}, beyond the retry budget of ${Math.ceil(this.budgetMs / 1000)}s`
  }
}

/** The ways a call can fail before it delivers anything (a stream: before its first token). */
export const CallFailure = Schema.Union(
  RateLimited,
  ProviderUnavailable,
  Timeout,
  CircuitOpen,
  Unauthorized,
  BadRequest,
  MalformedResponse,
  RetryBudgetExceeded
)
export type CallFailure = typeof CallFailure.Type

/**
 * A streamed answer broke off after its first token: `cause` is what ended it (a dropped
 * connection, an idle gap longer than `LLM_STREAM_IDLE_TIMEOUT`), `partialText` what had arrived.
 * Not retried: the caller has already shown or used the part it got.
 */
export class StreamInterrupted extends Schema.TaggedError<StreamInterrupted>()("StreamInterrupted", {
  ...Context,
  partialText: Schema.String,
  cause: CallFailure
}) {
  override get message(): string {
    return `${this.provider} stream of ${this.model} broke off after ${this.partialText.length} characters: ${this.cause.message}`
  }
}

/** Every way an LLM call can fail, as seen by agents and workflows. */
export type LlmError = CallFailure | StreamInterrupted

/** The schema of `LlmError`, for serialising errors into history and the API. */
export const LlmError = Schema.Union(CallFailure, StreamInterrupted)

/** Whether a value is one of the `LlmError` classes. */
export const isLlmError: (u: unknown) => u is LlmError = Schema.is(LlmError)

/**
 * Wraps an `LlmError` (or a refusal of the run's budget) as the `AiError` that `@effect/ai`'s
 * `LanguageModel` interface must fail with; `fromAiError` unwraps an `LlmError` again and agents
 * unwrap both, so they see the original typed error.
 */
export const toAiError = (error: LlmError | BudgetExceeded, method: string): AiError.UnknownError =>
  new AiErrors.UnknownError({ module: "ResilientLanguageModel", method, description: error.message, cause: error })

/** Failures worth another attempt: 429, 408, 5xx, timeouts and connection failures. */
export const isRetryable = (error: LlmError): boolean =>
  error._tag === "RateLimited" || error._tag === "ProviderUnavailable" || error._tag === "Timeout"

const RETRYABLE_TAGS: ReadonlySet<string> = new Set(["RateLimited", "ProviderUnavailable", "Timeout"])

/** `isRetryable` for any error value: false for everything that is not a retryable `LlmError`. */
export const isRetryableError = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" &&
  RETRYABLE_TAGS.has(error._tag) && isRetryable(error as LlmError)

/**
 * Failures that count against a circuit breaker: the provider is down or failing (5xx, 408,
 * timeouts, connection failures). A 429 does not: the provider is healthy and asking us to slow
 * down, which the rate limiter's pause handles. Counting it would trip the breaker whenever a burst
 * of concurrent calls meets a rate limit, since 429s come back faster than successes.
 */
export const countsAsProviderFailure = (error: LlmError): boolean =>
  error._tag === "ProviderUnavailable" || error._tag === "Timeout"

/**
 * Parses a `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3). Returns the wait
 * from `nowMs`, never negative; `None` when the header is absent or unreadable.
 */
export const parseRetryAfter = (header: string | undefined, nowMs: number): Option.Option<Duration.Duration> => {
  if (header === undefined) return Option.none()
  const text = header.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Option.some(Duration.millis(Math.round(Number(text) * 1000)))
  const date = Date.parse(text)
  if (Number.isNaN(date)) return Option.none()
  return Option.some(Duration.millis(Math.max(0, date - nowMs)))
}

const headerOf = (headers: Readonly<Record<string, string>>, name: string): string | undefined => {
  const wanted = name.toLowerCase()
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === wanted) return v
  return undefined
}

/** The provider and model an error is about. */
export interface CallContext {
  readonly provider: string
  readonly model: string
}

const RAW_LIMIT = 64 * 1024

/**
 * Maps `@effect/ai`'s `AiError` to an `LlmError`. The status code decides retryability; the
 * response body is kept (bounded) for malformed output so nothing the provider said is lost.
 */
export const fromAiError = (error: AiError.AiError, context: CallContext, nowMs: number): LlmError => {
  switch (error._tag) {
    case "HttpRequestError":
      // Transport failures (refused, reset, DNS) are the provider's side; encode/URL errors are ours.
      return error.reason === "Transport"
        ? new ProviderUnavailable({ ...context, detail: error.description ?? "connection failed" })
        : new BadRequest({ ...context, detail: error.description ?? error.reason })
    case "HttpResponseError": {
      const status = error.response.status
      if (status === 429) {
        const wait = parseRetryAfter(headerOf(error.response.headers, "retry-after"), nowMs)
        return new RateLimited({
          ...context,
          ...(Option.isSome(wait) ? { retryAfterMs: Duration.toMillis(wait.value) } : {})
        })
      }
      if (status === 401 || status === 403) return new Unauthorized({ ...context, status })
      if (status === 408 || status >= 500) {
        return new ProviderUnavailable({ ...context, status, detail: error.description ?? `HTTP ${status}` })
      }
      if (error.reason !== "StatusCode" && status >= 200 && status < 300) {
        return new MalformedResponse({
          ...context,
          raw: (error.body ?? "").slice(0, RAW_LIMIT),
          detail: error.description ?? error.reason
        })
      }
      return new BadRequest({ ...context, status, detail: error.description ?? (error.body ?? "").slice(0, 500) })
    }
    case "MalformedOutput": {
      // A structured answer the schema rejected: the ParseError's `actual` is what the model said.
      const cause = error.cause
      const actual = ParseResult.isParseError(cause) ? cause.issue.actual : undefined
      const raw = typeof actual === "string" ? actual : actual === undefined ? "" : JSON.stringify(actual) ?? ""
      const detail = ParseResult.isParseError(cause)
        ? ParseResult.TreeFormatter.formatErrorSync(cause)
        : error.description ?? "unreadable provider output"
      return new MalformedResponse({ ...context, raw: raw.slice(0, RAW_LIMIT), detail })
    }
    case "MalformedInput":
      return new BadRequest({ ...context, detail: error.description ?? "invalid request" })
    case "UnknownError":
      // The resilient layer carries an LlmError through the LanguageModel interface this way.
      if (isLlmError(error.cause)) return error.cause
      return new ProviderUnavailable({ ...context, detail: error.description ?? "unknown provider error" })
  }
}
