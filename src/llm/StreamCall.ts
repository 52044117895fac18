/**
 * StreamCall — a streamed call (`LanguageModel.streamText`) through the resilient stages.
 *
 * Until its first token a stream is an ordinary call: each attempt is admitted by the breaker,
 * takes a limiter permit and must deliver a token within `LLM_TIMEOUT`; failures retry and fall
 * back as an answer's do (`Recovery`). Nothing reaches the caller before that, so nothing has to be
 * taken back. After the first token the stream is the caller's: a failure, or a gap longer than
 * `LLM_STREAM_IDLE_TIMEOUT` (`IdleWatch`), ends it with `StreamInterrupted`, which keeps the text delivered. A
 * complete answer enters the cache, and a hit is replayed as a stream. Inside a run the growing
 * text is published as `AnswerDelta` events, at most one per `deltaIntervalMs`. The call's
 * telemetry (`LlmCallFinished`, metrics, tallies) is recorded once, as the stream ends. Streams do
 * not share flights: each caller reads its own.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as Response from "@effect/ai/Response"
import { Chunk, Duration, Effect, ExecutionStrategy, Exit, Fiber, Option, Scope, Stream } from "effect"
import type { BudgetExceeded } from "../services/Budget.js"
import type { CallOptions } from "../services/LlmCacheKey.js"
import { type LlmError, StreamInterrupted, Timeout } from "../services/LlmError.js"
import type { ModelRef } from "../services/ModelFactory.js"
import type { PricingService } from "../services/Pricing.js"
import { AnswerDelta, unsafeMakeEvent, type WorkflowEventsService } from "../services/WorkflowEvents.js"
import * as Attempt from "./Attempt.js"
import type { CachedResponses } from "./CachedResponses.js"
import * as IdleWatch from "./IdleWatch.js"
import type { Call } from "./Call.js"
import { scopedSpan } from "../internal/tracing.js"
import * as CallSpans from "./CallSpans.js"
import * as CallTelemetry from "./CallTelemetry.js"
import type { AttemptOf, Recover, Recovered } from "./Recovery.js"
import type { ScopedReservation } from "./Reservation.js"

export type Part = Response.StreamPart<{}>

/** A streamed call as it starts: the call, its cache key, and whether the cache may store and answer it. */
export interface Prepared {
  readonly call: Call
  readonly key: string
  readonly cacheable: boolean
  readonly read: boolean
}

/** An attempt's stream once its first token came (or it ended without one). */
interface Opened {
  /** The parts read so far, the first text delta last. */
  readonly head: ReadonlyArray<Part>
  /** The rest; fails with `None` at the end. */
  readonly pull: Effect.Effect<Chunk.Chunk<Part>, Option.Option<unknown>>
  readonly ended: boolean
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

const isToken = (part: Part): boolean => part.type === "text-delta" && part.delta.length > 0

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

/**
 * `Effect.timeoutFail` without its waits on the way to the first token: once `self` is done the
 * timer is interrupted without waiting for its fiber to stop (with a hundred streams starting at
 * once, each wait is a trip through every other fiber's turn). A timeout still waits for `self` to
 * stop, so its request is aborted before the attempt's scope closes.
 */
const within = (duration: Duration.Duration, onTimeout: () => LlmError) =>
<A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E | LlmError> =>
  Effect.raceWith(self, Effect.sleep(duration), {
    onSelfDone: (exit, timer) => Effect.zipRight(Fiber.interruptFork(timer), exit),
    onOtherDone: (_, reading) => Effect.zipRight(Fiber.interrupt(reading), Effect.fail(onTimeout()))
  })

/** Streamed calls over `stages`: `stream(prepared)` (see `Prepared`). */
export const make = (stages: StreamStages) => {
  const { cached, events, limiter, models, pricing, telemetry } = stages
  const firstTokenMs = Duration.toMillis(stages.firstToken)
  const idleMs = Duration.toMillis(stages.idle)

  /** Opens `model`'s stream in a scope of its own under `parent` and reads up to its first token. */
  const open = (parent: Scope.Scope) => (call: Call, model: ModelRef, service: LanguageModel.Service) =>
    Effect.flatMap(Scope.fork(parent, ExecutionStrategy.sequential), (scope) => {
      const source = (service.streamText as unknown as (o: CallOptions) => Stream.Stream<Part, unknown>)(call.options)
      const first = Effect.gen(function*() {
        const pull = yield* Scope.extend(Stream.toPull(source), scope)
        const head: Array<Part> = []
        for (;;) {
          const chunk = yield* Effect.catchAll(pull, (end) =>
            Option.isNone(end) ? Effect.succeed(undefined) : Effect.fail(end.value))
          if (chunk === undefined) return { head, pull, ended: true }
          let token = false
          for (const part of chunk) {
            head.push(part)
            token ||= isToken(part)
          }
          if (token) return { head, pull, ended: false }
        }
      })
      const settled = call.ctx.settings === undefined ? first : models.withSettings(model, call.ctx.settings)(first)
      return settled.pipe(
        within(stages.firstToken, () => new Timeout({ provider: model.provider, model: model.label, timeoutMs: firstTokenMs })),
        Effect.catchAll(Attempt.failure(limiter, call, model)),
        Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit))
      )
    })

  /** The first token, after retries and fallbacks; the failure is recorded when there is none. */
  const opening = (call: Call, parent: Scope.Scope, count: Attempt.Count): Effect.Effect<Recovered<Opened>, LlmError> => {
    const attempt = Attempt.makeWith<Opened>(stages, { request: open(parent), answered: () => undefined })
    return attempt(call, call.model, count).pipe(
      Effect.map((value): Recovered<Opened> => ({ value, model: call.model })),
      Effect.catchAll((error) => stages.recoverWith(attempt)(call, count, error)),
      Effect.tapError((error) =>
        telemetry.finished(call, { model: call.model, cached: false, attempts: count.attempts, usage: noUsage, costUsd: 0, error })
      )
    )
  }

  /** Publishes the text gathered since the last delta (inside a run only). */
  const deltas = (call: Call) => {
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

  /** The provider's stream after its first token: tracked, timed, recorded and cached as it ends. */
  const deliver = (call: Call, key: string, cacheable: boolean, opened: Recovered<Opened>, count: Attempt.Count) =>
    Effect.gen(function*() {
      const { model, value } = opened
      const live = deltas(call)
      const metadata: Array<Part> = []
      let text = ""
      let finish: Response.FinishPart | undefined
      let failure: LlmError | undefined
      let complete = value.ended
      const track = (chunk: Iterable<Part>): Effect.Effect<void> => {
        let added = ""
        for (const part of chunk) {
          if (part.type === "text-delta") added += part.delta
          else if (part.type === "finish") finish = part
          else if (part.type === "response-metadata") metadata.push(part)
        }
        if (added.length === 0) return Effect.void
        text += added
        return live.add(added)
      }
      const interrupted = (cause: LlmError): StreamInterrupted => {
        const error = new StreamInterrupted({
          provider: model.provider,
          model: model.label,
          partialText: text,
          cause: cause._tag === "StreamInterrupted" ? cause.cause : cause
        })
        failure = error
        return error
      }
      yield* Effect.addFinalizer(() =>
        Effect.zipRight(live.flush, finished(call, key, cacheable && complete && failure === undefined, {
          model,
          attempts: count.attempts,
          error: failure,
          answer: collected(metadata, text, finish)
        }))
      )
      yield* track(value.head)
      if (value.ended) return Stream.fromIterable(value.head)
      const next = Effect.catchAll(value.pull, (end): Effect.Effect<never, Option.Option<StreamInterrupted>> =>
        Option.isNone(end)
          ? Effect.suspend(() => {
            complete = true
            return Effect.fail(Option.none())
          })
          : Effect.mapError(Attempt.failure(limiter, call, model)(end.value), (e) => Option.some(interrupted(e))))
      // The head and the rest from one mailbox: no stream stage joins them.
      return yield* IdleWatch.watch(value.head, next, {
        idle: stages.idle,
        clock: call.clock,
        onChunk: track,
        expired: () => interrupted(new Timeout({ provider: model.provider, model: model.label, timeoutMs: idleMs }))
      })
    })

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
      const opened = yield* (span === undefined
        ? opening(call, parent, count)
        : Effect.withParentSpan(opening(call, parent, count), span))
      return yield* deliver(call, key, cacheable, opened, count)
    }))
}
