/**
 * A scripted `LanguageModel` for agent and workflow tests, built through `LanguageModel.make` so
 * it exercises the same prompt handling and structured-output decoding as a real provider.
 *
 * Each call is answered by `respond` (which sees the prompt and the agent from `WorkflowContext`).
 * With `events`, the fake also plays the resilient layer's part: it publishes LlmCallStarted /
 * LlmCallFinished with a fixed cost per call, so step totals and budgets can be tested without
 * the real LLM stack.
 */
import { type AiError, LanguageModel, type Prompt, type Response } from "@effect/ai"
import { Clock, Context, Effect, Layer, Stream } from "effect"
import type { LlmError } from "../../src/services/LlmError.js"
import * as WorkflowContext from "../../src/services/WorkflowContext.js"
import { LlmCallFinished, LlmCallStarted, WorkflowEvents } from "../../src/services/WorkflowEvents.js"

/** One call the fake received. */
export interface FakeCall {
  /** 0-based position among all calls to this fake. */
  readonly index: number
  /** The agent running the call, from `WorkflowContext`. */
  readonly agent: string | undefined
  readonly runId: string | undefined
  readonly stepId: string | undefined
  readonly prompt: Prompt.Prompt
  /** `"json"` for `generateObject`, `"text"` for `generateText`. */
  readonly format: "json" | "text"
  /** The span `LanguageModel` opened for the call (its parent is the caller's span). */
  readonly spanParentName: string | undefined
}

/** What the fake answers: text, optionally with token counts. */
export type FakeAnswer = string | { readonly text: string; readonly inputTokens?: number; readonly outputTokens?: number }

/** How the fake answers; fail with an `LlmError` to play a resilient layer, `AiError` a bare provider. */
export type Respond = (call: FakeCall) => Effect.Effect<FakeAnswer, AiError.AiError | LlmError>

export interface FakeOptions {
  readonly respond: Respond
  /** Publish LLM call events like the resilient layer, each call costing `costUsdPerCall`. */
  readonly events?: {
    readonly costUsdPerCall?: number
    readonly model?: string
    readonly provider?: string
    readonly cached?: boolean
    readonly attempt?: number
  }
}

/** The calls a fake received, newest last. */
export class FakeCalls extends Context.Tag("test/FakeCalls")<FakeCalls, { readonly all: () => ReadonlyArray<FakeCall> }>() {}

/** The text of every message of a prompt, joined (to assert on what the model was told). */
export const promptText = (prompt: Prompt.Prompt): string =>
  prompt.content
    .map((message) =>
      typeof message.content === "string"
        ? message.content
        : message.content.map((part) => ("text" in part && typeof part.text === "string" ? part.text : "")).join("")
    )
    .join("\n")

/** A fake `LanguageModel` plus `FakeCalls`; needs `WorkflowEvents` only when `events` is set. */
export const layer = (options: FakeOptions): Layer.Layer<LanguageModel.LanguageModel | FakeCalls, never, WorkflowEvents> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const calls: Array<FakeCall> = []
    const events = options.events === undefined ? undefined : yield* WorkflowEvents
    const model = options.events?.model ?? "fake-model"
    const provider = options.events?.provider ?? "fake"
    const answer = (providerOptions: LanguageModel.ProviderOptions) =>
        Effect.gen(function*() {
          const ctx = yield* WorkflowContext.current
          const parent = providerOptions.span.parent
          const call: FakeCall = {
            index: calls.length,
            agent: ctx.agent,
            runId: ctx.runId,
            stepId: ctx.stepId,
            prompt: providerOptions.prompt,
            format: providerOptions.responseFormat.type,
            spanParentName: parent._tag === "Some" && parent.value._tag === "Span" ? parent.value.name : undefined
          }
          calls.push(call)
          const ids = {
            ...(ctx.runId === undefined ? {} : { runId: ctx.runId }),
            ...(ctx.stepId === undefined ? {} : { stepId: ctx.stepId }),
            ...(ctx.agent === undefined ? {} : { agent: ctx.agent })
          }
          const start = yield* Clock.currentTimeMillis
          if (events !== undefined) {
            yield* events.publish(new LlmCallStarted({ ...ids, model, provider, attempt: 1, at: start }))
          }
          // LlmError values stand in for what the resilient layer fails with at run time.
          const answer = yield* (options.respond(call) as Effect.Effect<FakeAnswer, AiError.AiError>)
          const text = typeof answer === "string" ? answer : answer.text
          const inputTokens = typeof answer === "string" ? 10 : answer.inputTokens ?? 10
          const outputTokens = typeof answer === "string" ? 5 : answer.outputTokens ?? 5
          if (events !== undefined) {
            const end = yield* Clock.currentTimeMillis
            const finished = new LlmCallFinished({
              ...ids,
              model,
              provider,
              cached: options.events?.cached ?? false,
              attempt: options.events?.attempt ?? 1,
              usage: { inputTokens, outputTokens },
              costUsd: options.events?.costUsdPerCall ?? 0,
              durationMs: end - start,
              status: "success",
              at: end
            })
            // As the resilient layer does: the run's and steps' tallies first, then the event.
            WorkflowContext.recordIn(ctx, finished)
            yield* events.publish(finished)
          }
          return { text, usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens } }
        })
    const service = yield* LanguageModel.make({
      generateText: (providerOptions) =>
        Effect.map(answer(providerOptions), ({ text, usage }): Array<Response.PartEncoded> => [
          { type: "text", text },
          { type: "finish", reason: "stop", usage }
        ]),
      // The same answer, in one piece.
      streamText: (providerOptions) =>
        Stream.unwrap(Effect.map(answer(providerOptions), ({ text, usage }) =>
          Stream.fromIterable<Response.StreamPartEncoded>([
            { type: "text-start", id: "0" },
            { type: "text-delta", id: "0", delta: text },
            { type: "text-end", id: "0" },
            { type: "finish", reason: "stop", usage }
          ])))
    })
    return Layer.merge(
      Layer.succeed(LanguageModel.LanguageModel, service),
      Layer.succeed(FakeCalls, { all: () => calls.slice() })
    )
  }))

/** Answers calls in order from `answers`; a call beyond the script is a test bug and dies. */
export const sequence = (...answers: ReadonlyArray<FakeAnswer | Effect.Effect<FakeAnswer, AiError.AiError | LlmError>>): Respond =>
(call) => {
  const answer = answers[call.index]
  if (answer === undefined) return Effect.dieMessage(`FakeLanguageModel: unexpected call #${call.index + 1}`)
  return Effect.isEffect(answer) ? answer : Effect.succeed(answer)
}

/** Answers by agent name; an agent without an entry dies. */
export const byAgent = (answers: Readonly<Record<string, (call: FakeCall) => FakeAnswer>>): Respond => (call) => {
  const f = call.agent === undefined ? undefined : answers[call.agent]
  return f === undefined ? Effect.dieMessage(`FakeLanguageModel: no answer for agent ${call.agent}`) : Effect.sync(() => f(call))
}
