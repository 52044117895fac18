/**
 * ToolCall — one tool call an agent's model asked for: run through the toolkit's handler, seen as
 * events, metrics and a span.
 *
 * The handler runs through `@effect/ai`'s `Toolkit.handle`, so parameters are decoded and results
 * validated and encoded with the tool's Schemas, and the tool's `failureMode` decides whether a
 * handler failure goes back to the model (`"return"`) or fails the agent (`"error"`). A call to a
 * tool the toolkit lacks, or with arguments its Schema rejects, never gets here: `LanguageModel`
 * rejects the response that holds it (`MalformedResponse`), so tool names on metrics are bounded.
 * Arguments and results may hold user data: events carry them truncated, metrics never.
 */
import type * as Prompt from "@effect/ai/Prompt"
import type * as Tool from "@effect/ai/Tool"
import type * as Toolkit from "@effect/ai/Toolkit"
import { Cause, Clock, Context, Effect, Either, Exit, Option, Schema, SchemaAST, Tracer } from "effect"
import { exporting, traced } from "../internal/tracing.js"
import * as Metrics from "../services/Metrics.js"
import * as WorkflowContext from "../services/WorkflowContext.js"
import {
  errorInfo,
  type ErrorInfo,
  ToolCallFinished,
  ToolCallStarted,
  type ToolCallStatus,
  truncate,
  unsafeMakeEvent,
  WorkflowEvents
} from "../services/WorkflowEvents.js"

/** A tool call as the model sent it: its id, the tool's name and the arguments (encoded, JSON). */
export interface Request {
  readonly id: string
  readonly name: string
  readonly params: unknown
}

/** Characters of arguments and results kept in events. */
const SHOWN = 500

/** The metric updates of one agent's tool, made once (see `Metrics.fixedTags`): calls by status, and durations. */
interface Meters {
  readonly calls: Readonly<Record<ToolCallStatus, Metrics.FixedTagged<number>>>
  readonly duration: Metrics.FixedTagged<number>
}
// By agent, then tool: found on each call without building a key.
const meters = new Map<string, Map<string, Meters>>()
const metersOf = (agent: string, tool: string): Meters => {
  let byTool = meters.get(agent)
  if (byTool === undefined) {
    byTool = new Map()
    meters.set(agent, byTool)
  }
  let found = byTool.get(tool)
  if (found === undefined) {
    const calls = (status: ToolCallStatus) => Metrics.fixedTags(Metrics.agentToolCallsTotal, { agent, tool, status })
    found = {
      calls: { success: calls("success"), error: calls("error"), cancelled: calls("cancelled") },
      duration: Metrics.fixedTags(Metrics.agentToolCallDurationSeconds, { agent, tool })
    }
    byTool.set(tool, found)
  }
  return found
}

/** The result part that goes back to the model. */
const resultPart = (request: Request, isFailure: boolean, result: unknown): Prompt.ToolResultPartEncoded => ({
  type: "tool-result",
  id: request.id,
  name: request.name,
  isFailure,
  result,
  providerExecuted: false
})

/**
 * `Toolkit.handle` annotates its span, or failing that the current one, with the whole arguments.
 * Under a disabled tracer and a parent that is not ours, that annotation goes nowhere.
 */
const hiddenParent = Tracer.externalSpan({ spanId: "tool-handler", traceId: "tool-handler", sampled: false })

/**
 * Runs one tool call. Succeeds with the result part for the model (an error result when the tool's
 * failure mode is `"return"`); fails with the handler's error when its failure mode is `"error"`.
 */
export const run = <Tools extends Record<string, Tool.Any>>(
  agent: string,
  toolkit: Toolkit.WithHandler<Tools>,
  request: Request
): Effect.Effect<Prompt.ToolResultPartEncoded, Tool.HandlerError<Tools[keyof Tools]>, Tool.Requirements<Tools[keyof Tools]>> => {
  const label = request.name
  const shownArgs = truncate(request.params, SHOWN)
  const handle = toolkit.handle(request.name as keyof Tools, request.params as Tool.Parameters<Tools[keyof Tools]>)
  const spanOptions = () => ({
    kind: "internal" as const,
    attributes: {
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": label,
      "gen_ai.tool.call.id": request.id,
      "gen_ai.agent.name": agent
    }
  })
  // The fiber's context, event bus and clock are read once, at the start (a step's calls are many).
  return Effect.withFiberRuntime((fiber) => {
    const ctx = fiber.getFiberRef(WorkflowContext.ref)
    const events = Context.getOption(fiber.currentContext, WorkflowEvents)
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    const start = clock.unsafeCurrentTimeMillis()
    // What both events say. Joined with `Object.assign`: on Node 20 an object spread followed by
    // more fields costs ~1.5 µs.
    const shared = { runId: ctx.runId, stepId: ctx.stepId, agent, tool: label, callId: request.id, arguments: shownArgs }
    // Our span carries no arguments; `Toolkit.handle` would record them whole where spans are
    // exported, so there it runs untraced (spans made inside the handler go with it).
    const traced_ = exporting(fiber)
      ? traced(Effect.withTracerEnabled(Effect.withParentSpan(handle, hiddenParent), false), `Tool.${label}`, spanOptions)
      : handle
    // Metrics and the finished event, then the call's outcome as the result part: run on every
    // exit, interruption included, in this same fiber (so its metric labels are read here).
    const finish = (result: Exit.Exit<Prompt.ToolResultPartEncoded, Tool.HandlerError<Tools[keyof Tools]>>) => {
      const end = clock.unsafeCurrentTimeMillis()
      const outcome = outcomeOf(result)
      const m = metersOf(agent, label)
      const labelled = Metrics.updateAllNow(fiber, [[m.calls[outcome.status], 1], [m.duration, (end - start) / 1000]])
      const published = Option.isNone(events) ? result : Effect.zipRight(
        events.value.publish(unsafeMakeEvent(ToolCallFinished, Object.assign({}, shared, {
          status: outcome.status,
          result: outcome.result,
          error: outcome.error,
          durationMs: end - start,
          at: end
        }))),
        result
      )
      return labelled === undefined ? published : Effect.zipRight(labelled, published)
    }
    const body = Effect.uninterruptibleMask((restore) =>
      Effect.matchCauseEffect(restore(traced_), {
        onSuccess: ({ encodedResult, isFailure }) => finish(Exit.succeed(resultPart(request, isFailure, encodedResult))),
        onFailure: (cause) => finish(Exit.failCause(cause))
      })
    )
    // Built without the constructors' validation: every field is already of its type.
    return Option.isNone(events)
      ? body
      : Effect.zipRight(events.value.publish(unsafeMakeEvent(ToolCallStarted, Object.assign({}, shared, { at: start }))), body)
  })
}

/** The tag of an error result: the tool's own error's `_tag` when it has one. */
const tagOf = (result: unknown): string =>
  typeof result === "object" && result !== null && "_tag" in result && typeof result._tag === "string" ? result._tag : "ToolError"

/** Status, result and error of a finished call, as its event shows them. */
const outcomeOf = (
  exit: Exit.Exit<Prompt.ToolResultPartEncoded, unknown>
): { readonly status: ToolCallStatus; readonly result?: string; readonly error?: ErrorInfo } => {
  if (Exit.isSuccess(exit)) {
    const { isFailure, result } = exit.value
    const shown = truncate(result, SHOWN)
    return isFailure
      ? { status: "error", result: shown, error: { tag: tagOf(result), message: shown } }
      : { status: "success", result: shown }
  }
  if (Cause.isInterruptedOnly(exit.cause)) return { status: "cancelled" }
  const failure = Cause.failureOption(exit.cause)
  return { status: "error", error: Option.isSome(failure) ? errorInfo(failure.value) : { tag: "Defect", message: "tool died" } }
}

// One encoder per tool object: compiling it on every call cost more than the rest of the call.
// `null` for a Schema without transformations or refinements: the arguments decoded by it are
// their own encoded form, and encoding them again would only copy them.
const encoders = new WeakMap<object, ((u: unknown) => Either.Either<unknown, unknown>) | null>()

/** The encoded arguments of a tool call part the model sent (parts arrive decoded with the tool's Schema). */
export const encodeParams = (tools: Record<string, Tool.Any>, name: string, params: unknown): unknown => {
  const tool = tools[name]
  if (tool === undefined) return params
  let encode = encoders.get(tool)
  if (encode === undefined) {
    const schema = tool.parametersSchema as Schema.Schema<unknown, unknown>
    encode = SchemaAST.encodedAST(schema.ast) === schema.ast ? null : Schema.encodeUnknownEither(schema)
    encoders.set(tool, encode)
  }
  return encode === null ? params : Either.getOrElse(encode(params), () => params)
}
