/**
 * AgentStream — a text agent's answer as it arrives (`agent.stream(input)`).
 *
 * The stream is the agent's run spread over time: the agent's context (run, step, agent, model,
 * settings) holds from its start to its end, the budget is checked before the call, and
 * `agent_executions_total` / `agent_execution_duration_seconds` are recorded as it ends (stopped
 * early by the reader counts as cancelled). It emits the text deltas of `LanguageModel.streamText`
 * — under the resilient layer: retried until the first token, then ended by a failure with
 * `StreamInterrupted`, which keeps the text delivered so far.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import { Clock, Effect, type Exit, Option, Stream, Tracer } from "effect"
import { scopedSpan } from "../internal/tracing.js"
import * as WorkflowContext from "../services/WorkflowContext.js"
import type { AgentError } from "./AgentError.js"

/** What the agent hands its stream. */
export interface StreamOf {
  /** Enters the agent's context; returns the context to restore. */
  readonly enter: Effect.Effect<WorkflowContext.WorkflowContextValue>
  /** The call's messages, once the budget allows a call. */
  readonly messages: Effect.Effect<ReadonlyArray<Prompt.MessageEncoded>, AgentError>
  /** What the model failed with, as the agent reports it. */
  readonly failure: (error: unknown) => Effect.Effect<never, AgentError>
  /** The agent's span (`Agent.<name>`) and its attributes. */
  readonly span: { readonly name: string; readonly options: Tracer.SpanOptions }
  /** Ends a run started at `start` (epoch ms): records the agent's metrics and restores `outer`. */
  readonly leave: (start: number, exit: Exit.Exit<unknown, unknown>, outer: WorkflowContext.WorkflowContextValue) => Effect.Effect<void>
}

/** The answer's text deltas, in order; their concatenation is what `run` would have answered. */
export const stream = (of: StreamOf): Stream.Stream<string, AgentError, LanguageModel.LanguageModel> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    yield* Effect.acquireRelease(of.enter, (outer, exit) => of.leave(start, exit, outer))
    const span = yield* scopedSpan(of.span.name, of.span.options)
    const prompt = yield* of.messages
    const text = LanguageModel.streamText({ prompt }).pipe(
      Stream.filterMap((part) => part.type === "text-delta" && part.delta.length > 0 ? Option.some(part.delta) : Option.none()),
      Stream.catchAll((error) => Stream.fromEffect(of.failure(error)))
    )
    // The model's call is a child of the agent's span, as `run`'s is.
    return span === undefined ? text : Stream.provideService(text, Tracer.ParentSpan, span)
  }))
