/**
 * ScriptedModel — a `LanguageModel` that plays a script, one line per call, for workflow tests.
 *
 * Built with `LanguageModel.make`, like a real provider, so prompts, structured output decoding and
 * the resilient layer's retries run exactly as in production. Each call takes the next step: an
 * answer (with its token usage) or one of the project's typed `LlmError`s, so "the provider failed
 * with a 503" is `ScriptedModel.fail(503)` and retries, the breaker and fallbacks react to it as
 * they would to the real thing. A call beyond the script is a bug in the test and dies, naming it.
 *
 * The script's position is the `Script` service the layer also provides (`ScriptedModel.calls`);
 * `TestLayer.layer({ languageModel: ScriptedModel.layer(steps) })` passes it through to the test.
 */
import type * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Response from "@effect/ai/Response"
import { Context, Duration, Effect, Layer, Ref, Stream } from "effect"
import {
  BadRequest,
  type LlmError,
  MalformedResponse,
  ProviderUnavailable,
  RateLimited,
  Timeout,
  toAiError,
  Unauthorized
} from "../services/LlmError.js"

/** The provider and model named in the scripted errors. */
const origin = { provider: "scripted", model: "scripted" }

/** Tokens an answer reports when the step does not say (10 in, 5 out). */
const defaultUsage: Usage = { inputTokens: 10, outputTokens: 5 }

/** Tokens one answer reports; the resilient layer prices them like a real call. */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
}

/** One call of the script: what the model answers, or how it fails. */
export type Step =
  | { readonly _tag: "Answer"; readonly text: string; readonly usage: Usage }
  | { readonly _tag: "ToolCalls"; readonly calls: ReadonlyArray<ScriptedToolCall>; readonly usage: Usage }
  | { readonly _tag: "Fail"; readonly error: LlmError }
  | {
    readonly _tag: "Chunks"
    readonly chunks: ReadonlyArray<string>
    readonly first: Duration.Duration
    readonly every: Duration.Duration
    readonly thenFail: LlmError | undefined
    readonly usage: Usage
  }

/**
 * A streamed answer in `chunks`: the first after `first`, the others `every` apart (on the fiber's
 * clock, so `TestClock` drives them), then the end — or `thenFail`, a failure after the last chunk
 * (a connection dropped mid-answer). Asked without streaming, the model waits the same and answers
 * the joined text (or fails).
 */
export const chunks = (
  parts: ReadonlyArray<string>,
  options: {
    readonly first?: Duration.DurationInput
    readonly every?: Duration.DurationInput
    readonly thenFail?: LlmError
    readonly usage?: Usage
  } = {}
): Step => ({
  _tag: "Chunks",
  chunks: parts,
  first: Duration.decode(options.first ?? 0),
  every: Duration.decode(options.every ?? 0),
  thenFail: options.thenFail,
  usage: options.usage ?? defaultUsage
})

/**
 * The model answers: a string as it is, anything else as its JSON (what a structured agent
 * decodes). `usage` defaults to 10 input and 5 output tokens.
 */
export const answer = (value: string | object, usage: Usage = defaultUsage): Step => ({
  _tag: "Answer",
  text: typeof value === "string" ? value : JSON.stringify(value),
  usage
})

/** A tool call the model makes: the tool's name and its arguments (as JSON would carry them). */
export interface ScriptedToolCall {
  readonly name: string
  readonly params: unknown
  /** Default: `call_<step>_<position>`. */
  readonly id?: string | undefined
}

/**
 * The model calls tools instead of answering (all of them in one response, as providers do for
 * independent calls); an agent with tools runs them and asks again with their results.
 */
export const toolCalls = (calls: ReadonlyArray<ScriptedToolCall>, usage: Usage = defaultUsage): Step => ({
  _tag: "ToolCalls",
  calls,
  usage
})

/**
 * The provider answers with this HTTP status, mapped as a real response would be: 429
 * `RateLimited`, 408 and 5xx `ProviderUnavailable` (retried), 401/403 `Unauthorized`, any other
 * `BadRequest` (not retried). Or hand in any `LlmError` to fail with it as is.
 */
export const fail = (status: number | LlmError, detail?: string): Step => {
  if (typeof status !== "number") return { _tag: "Fail", error: status }
  const text = detail ?? `HTTP ${status}`
  const error: LlmError = status === 429
    ? new RateLimited(origin)
    : status === 408 || status >= 500
    ? new ProviderUnavailable({ ...origin, status, detail: text })
    : status === 401 || status === 403
    ? new Unauthorized({ ...origin, status })
    : new BadRequest({ ...origin, status, detail: text })
  return { _tag: "Fail", error }
}

/** A 429, with its `Retry-After` when given: the retry waits that long instead of the backoff. */
export const rateLimited = (options: { readonly retryAfter?: Duration.DurationInput } = {}): Step => ({
  _tag: "Fail",
  error: new RateLimited({
    ...origin,
    ...(options.retryAfter === undefined ? {} : { retryAfterMs: Duration.toMillis(options.retryAfter) })
  })
})

/** The attempt timed out (`LLM_TIMEOUT` of `after`, default 60 s); it fails at once, no clock involved. */
export const timeout = (after: Duration.DurationInput = "60 seconds"): Step => ({
  _tag: "Fail",
  error: new Timeout({ ...origin, timeoutMs: Duration.toMillis(after) })
})

/**
 * The provider sent something unreadable: a `MalformedResponse` keeping `raw`. An agent re-asks
 * once, as for an answer its Schema rejects; to script an answer that decodes but does not fit,
 * use `answer("...")` instead.
 */
export const malformed = (raw: string, detail = "the response is not valid JSON"): Step => ({
  _tag: "Fail",
  error: new MalformedResponse({ ...origin, raw, detail })
})

/** Where the script is, for assertions. */
export interface ScriptState {
  /** Calls made so far (the step the next call takes, counting from 0). */
  readonly calls: Effect.Effect<number>
  /** Steps not played yet. */
  readonly remaining: Effect.Effect<number>
}

/** The service tag of the script's position. */
export class Script extends Context.Tag("effect-agents/ScriptedModel/Script")<Script, ScriptState>() {}

/** Accessor: `yield* ScriptedModel.calls`, the calls the model received. */
export const calls: Effect.Effect<number, never, Script> = Effect.flatMap(Script, (s) => s.calls)

/** Accessor: `yield* ScriptedModel.remaining`, the steps not played yet. */
export const remaining: Effect.Effect<number, never, Script> = Effect.flatMap(Script, (s) => s.remaining)

const finishOf = (usage: Usage): Response.PartEncoded => ({
  type: "finish",
  reason: "stop",
  usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, totalTokens: usage.inputTokens + usage.outputTokens }
})

const answerParts = (text: string, usage: Usage): Array<Response.PartEncoded> => [{ type: "text", text }, finishOf(usage)]

/** The tool calls of call number `index` (from 0), then the finish. */
const toolCallParts = (step: Extract<Step, { _tag: "ToolCalls" }>, index: number): Array<Response.PartEncoded> => [
  ...step.calls.map((c, i): Response.PartEncoded => ({
    type: "tool-call",
    id: c.id ?? `call_${index + 1}_${i + 1}`,
    name: c.name,
    params: c.params
  })),
  { ...finishOf(step.usage), reason: "tool-calls" } as Response.PartEncoded
]

/** A step as a stream of parts. */
const streamOf = (step: Step, index: number): Stream.Stream<Response.StreamPartEncoded, AiError.AiError> => {
  if (step._tag === "Fail") return Stream.fail(toAiError(step.error, "streamText"))
  if (step._tag === "ToolCalls") {
    return Stream.fromIterable(toolCallParts(step, index) as ReadonlyArray<Response.StreamPartEncoded>)
  }
  const texts: ReadonlyArray<string> = step._tag === "Answer" ? [step.text] : step.chunks
  const first = step._tag === "Answer" ? Duration.zero : step.first
  const every = step._tag === "Answer" ? Duration.zero : step.every
  const deltas = Stream.fromIterable(texts).pipe(
    Stream.zipWithIndex,
    Stream.mapEffect(([delta, i]) =>
      Effect.as(Effect.sleep(i === 0 ? first : every), { type: "text-delta", id: "0", delta } as Response.StreamPartEncoded)
    )
  )
  const start: Response.StreamPartEncoded = { type: "text-start", id: "0" }
  const end: Stream.Stream<Response.StreamPartEncoded, AiError.AiError> =
    step._tag === "Chunks" && step.thenFail !== undefined
      ? Stream.fail(toAiError(step.thenFail, "streamText"))
      : Stream.make<Array<Response.StreamPartEncoded>>({ type: "text-end", id: "0" }, finishOf(step.usage) as Response.StreamPartEncoded)
  return Stream.concat(Stream.concat(Stream.make(start), deltas), end)
}

/** The model and its position, playing `steps` in call order (concurrent calls take them as they come). */
export const make = (steps: ReadonlyArray<Step>): Effect.Effect<{
  readonly model: LanguageModel.Service
  readonly script: ScriptState
}> =>
  Effect.gen(function*() {
    const played = yield* Ref.make(0)
    const next = Effect.flatMap(Ref.getAndUpdate(played, (n) => n + 1), (index) => {
      const step = steps[index]
      return step === undefined
        ? Effect.dieMessage(`ScriptedModel: call #${index + 1}, but the script has ${steps.length} step(s)`)
        : Effect.succeed({ index, step })
    })
    const model = yield* LanguageModel.make({
      generateText: () =>
        Effect.flatMap(next, ({ index, step }): Effect.Effect<Array<Response.PartEncoded>, AiError.AiError> => {
          if (step._tag === "Fail") return Effect.fail(toAiError(step.error, "generateText"))
          if (step._tag === "Answer") return Effect.succeed(answerParts(step.text, step.usage))
          if (step._tag === "ToolCalls") return Effect.succeed(toolCallParts(step, index))
          const waited = Duration.sum(step.first, Duration.times(step.every, Math.max(0, step.chunks.length - 1)))
          return Effect.zipRight(
            Effect.sleep(waited),
            step.thenFail !== undefined
              ? Effect.fail(toAiError(step.thenFail, "generateText"))
              : Effect.succeed(answerParts(step.chunks.join(""), step.usage))
          )
        }),
      streamText: () => Stream.unwrap(Effect.map(next, ({ index, step }) => streamOf(step, index)))
    })
    return {
      model,
      script: {
        calls: Ref.get(played),
        remaining: Effect.map(Ref.get(played), (n) => Math.max(0, steps.length - n))
      }
    }
  })

/** `LanguageModel` playing `steps`, and its `Script`; each build starts the script afresh. */
export const layer = (steps: ReadonlyArray<Step>): Layer.Layer<LanguageModel.LanguageModel | Script> =>
  Layer.effectContext(
    Effect.map(make(steps), ({ model, script }) =>
      Context.make(LanguageModel.LanguageModel, model).pipe(Context.add(Script, script)))
  )
