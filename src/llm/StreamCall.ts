/**
 * StreamCall — a streamed call (`LanguageModel.streamText`) through the resilient stages.
 *
 * Until its first token a stream is an ordinary call: each attempt is admitted by the breaker,
 * takes a limiter permit and must deliver a token within `LLM_TIMEOUT`; failures retry and fall
 * back as an answer's do (`Recovery`). Nothing reaches the caller before that, so nothing has to be
 * taken back. After the first token the stream is the caller's: a failure, or a gap longer than
 * `LLM_STREAM_IDLE_TIMEOUT` (`StreamReader`), ends it with `StreamInterrupted`, which keeps the text delivered. A
 * complete answer enters the cache, and a hit is replayed as a stream. Inside a run the growing
 * text is published as `AnswerDelta` events, at most one per `deltaIntervalMs`. The call's
 * telemetry (`LlmCallFinished`, metrics, tallies) is recorded once, as the stream ends. Streams do
 * not share flights: each caller reads its own.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as Response from "@effect/ai/Response"
import { Duration, Effect, ExecutionStrategy, Exit, Option, Scope, Stream } from "effect"
import type { BudgetExceeded } from "../services/Budget.js"
import type { CallOptions } from "../services/LlmCacheKey.js"
import { type LlmError, StreamInterrupted, Timeout } from "../services/LlmError.js"
import type { ModelRef } from "../services/ModelFactory.js"
import type { PricingService } from "../services/Pricing.js"
import { AnswerDelta, unsafeMakeEvent, type WorkflowEventsService } from "../services/WorkflowEvents.js"
import * as Attempt from "./Attempt.js"
import type { CachedResponses } from "./CachedResponses.js"
import type { Call } from "./Call.js"
import { scopedSpan } from "../internal/tracing.js"
import * as CallSpans from "./CallSpans.js"
import * as CallTelemetry from "./CallTelemetry.js"
import type { AttemptOf, Recover, Recovered } from "./Recovery.js"
import type { ScopedReservation } from "./Reservation.js"
import * as StreamReader from "./StreamReader.js"
import type { Opened } from "./StreamReader.js"

export type Part = StreamReader.Part

/** The `AnswerDelta`s of one call: text added as it comes, and what is left as it ends. */
interface Deltas {
  readonly add: (text: string) => Effect.Effect<void>
  readonly flush: Effect.Effect<void>
}

/** A streamed call as it starts: the call, its cache key, and whether the cache may store and answer it. */
export interface Prepared {
  readonly call: Call
  readonly key: string
  readonly cacheable: boolean
  readonly read: boolean
}

export interface StreamStages extends Attempt.AttemptStages {
  readonly cached: CachedResponses
  readonly pricing: PricingService
  readonly events: WorkflowEventsService
  readonly reserve: ScopedReservation
  readonly recoverWith: <A>(attempt: AttemptOf<A>) => Recover<A>
  /** Time to first token, per attempt (`LLM_TIMEOUT`). */
  readonly firstToken: Duration.Duration
  /** Longest gap between parts after the first token (`LLM_STREAM_IDLE_TIMEOUT`). */
  readonly idle: Duration.Duration
  /** Shortest time between two `AnswerDelta`s of a call. */
  readonly deltaIntervalMs: number
}

/** What a cached answer looks like as a stream: its text in one delta between the same metadata. */
export const replay = (response: LanguageModel.GenerateTextResponse<{}>): ReadonlyArray<Part> => {
  const parts: Array<Part> = []
  for (const part of response.content as ReadonlyArray<Response.AnyPart>) {
    if (part.type === "text") {
      const id = `cached-${parts.length}`
      parts.push(
        Response.makePart("text-start", { id }),
        Response.makePart("text-delta", { id, delta: part.text }),
        Response.makePart("text-end", { id })
      )
    } else if (part.type === "response-metadata" || part.type === "finish") {
      parts.push(part)
    }
  }
  return parts
}

/** The response a complete stream amounts to, as the cache stores it. */
const collected = (metadata: ReadonlyArray<Part>, text: string, finish: Part | undefined) => {
  const content: Array<Response.AnyPart> = [...metadata as ReadonlyArray<Response.AnyPart>]
  content.push(Response.makePart("text", { text }))
  if (finish !== undefined) content.push(finish as Response.AnyPart)
  return new LanguageModel.GenerateTextResponse<{}>(content as Array<Response.Part<{}>>)
}

const noUsage = { inputTokens: 0, outputTokens: 0 }

/** Streamed calls over `stages`: `stream(prepared)` (see `Prepared`). */
export const make = (stages: StreamStages) => {
  const { cached, events, limiter, models, pricing, telemetry } = stages
  const firstTokenMs = Duration.toMillis(stages.firstToken)
  const idleMs = Duration.toMillis(stages.idle)

  /**
   * Opens `model`'s stream in a scope of its own under `parent` and reads up to its first token;
   * the rest is read on into `Opened.parts` (`StreamReader`).
   */
  const open = (parent: Scope.Scope, live: Deltas) => (call: Call, model: ModelRef, service: LanguageModel.Service) =>
    Effect.flatMap(Scope.fork(parent, ExecutionStrategy.sequential), (scope) => {
      const source = (service.streamText as unknown as (o: CallOptions) => Stream.Stream<Part, unknown>)(call.options)
      const timeout = (timeoutMs: number) => () => new Timeout({ provider: model.provider, model: model.label, timeoutMs })
      const first = StreamReader.read(source, {
        clock: call.clock,
        firstTokenMs,
        idleMs,
        onText: live.add,
        failure: Attempt.failure(limiter, call, model),
        firstTokenTimeout: timeout(firstTokenMs),
        idleTimeout: timeout(idleMs),
        interrupted: (reading, cause) =>
          new StreamInterrupted({
            provider: model.provider,
            model: model.label,
            partialText: reading.text,
            cause: cause._tag === "StreamInterrupted" ? cause.cause : cause
          })
      })
      const settled = call.ctx.settings === undefined ? first : models.withSettings(model, call.ctx.settings)(first)
      return Scope.extend(settled, scope).pipe(
        Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit))
      )
    })

  /** The first token, after retries and fallbacks; the failure is recorded when there is none. */
  const opening = (
    call: Call,
    parent: Scope.Scope,
    count: Attempt.Count,
    live: Deltas
  ): Effect.Effect<Recovered<Opened>, LlmError> => {
    const attempt = Attempt.makeWith<Opened>(stages, { request: open(parent, live), answered: () => undefined })
    return attempt(call, call.model, count).pipe(
      Effect.map((value): Recovered<Opened> => ({ value, model: call.model })),
      Effect.catchAll((error) => stages.recoverWith(attempt)(call, count, error)),
      Effect.tapError((error) =>
        telemetry.finished(call, { model: call.model, cached: false, attempts: count.attempts, usage: noUsage, costUsd: 0, error })
      )
    )
  }

  /** Publishes the text gathered since the last delta (inside a run only). */
  const deltas = (call: Call): Deltas => {
    const { agent, runId, stepId } = call.ctx
    let pending = ""
    let last = Number.NEGATIVE_INFINITY
    const flush = (now: number): Effect.Effect<void> => {
      if (runId === undefined || pending.length === 0) return Effect.void
      const text = pending
      pending = ""
      last = now
      return events.publish(unsafeMakeEvent(AnswerDelta, {
        runId,
        ...(stepId === undefined ? {} : { stepId }),
        ...(agent === undefined ? {} : { agent }),
        text,
        at: now
      }))
    }
    return {
      add: (text: string): Effect.Effect<void> => {
        if (runId === undefined) return Effect.void
        pending += text
        const now = call.clock.unsafeCurrentTimeMillis()
        return now - last >= stages.deltaIntervalMs ? flush(now) : Effect.void
      },
      flush: Effect.suspend(() => flush(call.clock.unsafeCurrentTimeMillis()))
    }
  }

  /** The provider's stream from its first token; recorded (and cached if complete) as it ends. */
  const deliver = (call: Call, key: string, cacheable: boolean, opened: Recovered<Opened>, count: Attempt.Count, live: Deltas) => {
    const { model, value: { parts, reading } } = opened
    return Effect.as(
      Effect.addFinalizer(() =>
        Effect.zipRight(live.flush, finished(call, key, cacheable && reading.complete && reading.failure === undefined, {
          model,
          attempts: count.attempts,
          error: reading.failure,
          answer: collected(reading.metadata, reading.text, reading.finish)
        }))
      ),
      parts
    )
  }

  /** `LlmCallFinished` of a stream that got its first token; a complete answer enters the cache. */
  const finished = (
    call: Call,
    key: string,
    store: boolean,
    outcome: {
      readonly model: ModelRef
      readonly attempts: number
      readonly error: LlmError | undefined
      readonly answer: LanguageModel.GenerateTextResponse<{}>
    }
  ): Effect.Effect<void> => {
    const { answer, ...rest } = outcome
    const usage = CallTelemetry.usageOf(answer)
    return Effect.flatMap(pricing.cost(outcome.model.label, usage, { providerCostUsd: CallTelemetry.providerCost(answer) }), (costUsd) => {
      const done = telemetry.finished(call, { ...rest, usage, cached: false, costUsd })
      return store ? Effect.zipRight(done, cached.write(key, answer)) : done
    })
  }

  /** A cache hit, replayed. */
  const hit = (call: Call, response: LanguageModel.GenerateTextResponse<{}>) =>
    Effect.gen(function*() {
      yield* telemetry.finished(call, {
        model: call.model,
        cached: true,
        attempts: 0,
        usage: CallTelemetry.usageOf(response),
        costUsd: 0,
        error: undefined
      })
      const live = deltas(call)
      yield* Effect.zipRight(live.add(response.text), live.flush)
      return Stream.fromIterable(replay(response))
    })

  /**
   * The streamed call `prepared` describes (`read`: the cache may answer), read as the stream
   * starts, in the stream's one setup stage.
   */
  return (prepared: Effect.Effect<Prepared>): Stream.Stream<Part, LlmError | BudgetExceeded> =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const { cacheable, call: asked, key, read } = yield* prepared
      // The call's span lasts as long as the stream; its attempts are its children.
      const span = yield* scopedSpan("LanguageModel.streamText")
      const call: Call = span === undefined ? asked : { ...asked, span }
      if (span !== undefined) CallSpans.callStarted(span, call)
      if (read) {
        const found = yield* cached.read(key)
        if (Option.isSome(found)) return yield* hit(call, found.value)
      }
      yield* stages.reserve(call)
      const count: Attempt.Count = { attempts: 0 }
      const parent = yield* Effect.scope
      const live = deltas(call)
      const opened = yield* (span === undefined
        ? opening(call, parent, count, live)
        : Effect.withParentSpan(opening(call, parent, count, live), span))
      return yield* deliver(call, key, cacheable, opened, count, live)
    }))
}
