/**
 * WorkflowEvents — the lifecycle events of workflows, steps and LLM calls, and the port that
 * publishes them.
 *
 * This is the spine of effect-agents: the dashboard, the run history, the SSE endpoint and the log
 * all consume the same stream. Events are `Schema.TaggedClass`es so they encode to plain JSON
 * (`Schema.encode(WorkflowEvent)`) for the API and the history without a second definition. Times
 * (`at`) are epoch milliseconds read from the Effect `Clock`, so tests drive them with `TestClock`.
 *
 * Who publishes what:
 * - `Workflow.run` (src/agents/Workflow.ts): WorkflowStarted / WorkflowFinished.
 * - `Workflow.step`: StepStarted / StepFinished.
 * - the resilient LLM layer: LlmCallStarted at the start of each attempt; LlmCallFinished ONCE per
 *   logical call, after retries (`attempt` = attempts it took, `status` = final outcome; a cache
 *   hit has `cached: true`); Retrying before each retry; RateLimited when it waits for a permit;
 *   CircuitStateChanged on every breaker transition; AnswerDelta as a streamed answer grows. LLM events read runId / stepId / agent from
 *   `WorkflowContext` and leave them out when the call happens outside a workflow.
 * - an agent with tools (src/agents/ToolCall.ts): ToolCallStarted / ToolCallFinished per tool call.
 */
import { Context, Effect, type Queue, type Scope, Schema, Stream } from "effect"

// ---------------------------------------------------------------------------------------------
// Shared field schemas
// ---------------------------------------------------------------------------------------------

/** Tokens used by a call, a step or a run. */
export const Usage = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number
})
export type Usage = typeof Usage.Type

/** No tokens: the neutral element when adding usages. */
export const emptyUsage: Usage = { inputTokens: 0, outputTokens: 0 }

/** Adds two usages. */
export const addUsage = (a: Usage, b: Usage): Usage => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens
})

/** A failure as shown to people and stored in history: its `_tag` and message, never a stack. */
export const ErrorInfo = Schema.Struct({
  tag: Schema.String,
  message: Schema.String
})
export type ErrorInfo = typeof ErrorInfo.Type

/** How a workflow run or a step ended. */
export const RunStatus = Schema.Literal("succeeded", "failed", "cancelled")
export type RunStatus = typeof RunStatus.Type

/** How an LLM call ended (the `status` label of `llm_requests_total`). */
export const CallStatus = Schema.Literal("success", "error")
export type CallStatus = typeof CallStatus.Type

/** Circuit breaker states (`circuit_breaker_state` gauge: 0 closed, 1 half-open, 2 open). */
export const BreakerState = Schema.Literal("closed", "half-open", "open")
export type BreakerState = typeof BreakerState.Type

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/**
 * A workflow run began; `input` is the decoded input as given to the workflow, `traceId` the trace
 * of its spans when they are exported (`OTEL_EXPORTER_OTLP_ENDPOINT`), `idempotencyKey` the key of
 * the API request that started it, if it had one. A durable run that is resumed starts again: its
 * second `WorkflowStarted` has the same run id.
 */
export class WorkflowStarted extends Schema.TaggedClass<WorkflowStarted>()("WorkflowStarted", {
  runId: Schema.String,
  workflow: Schema.String,
  input: Schema.Unknown,
  traceId: Schema.optional(Schema.String),
  idempotencyKey: Schema.optional(Schema.String),
  /** Executed by the durable engine: resumed, not interrupted, when its process dies. */
  durable: Schema.optional(Schema.Boolean),
  at: Schema.Number
}) {}

/**
 * A workflow run ended. `usage` and `costUsd` sum every LLM call made inside the run;
 * `output` is present when it succeeded, `error` when it failed.
 */
export class WorkflowFinished extends Schema.TaggedClass<WorkflowFinished>()("WorkflowFinished", {
  runId: Schema.String,
  workflow: Schema.String,
  status: RunStatus,
  output: Schema.optional(Schema.Unknown),
  error: Schema.optional(ErrorInfo),
  usage: Usage,
  costUsd: Schema.Number,
  durationMs: Schema.Number,
  at: Schema.Number
}) {}

/** A step of a run began. `stepId` is unique within the run. */
export class StepStarted extends Schema.TaggedClass<StepStarted>()("StepStarted", {
  runId: Schema.String,
  stepId: Schema.String,
  label: Schema.String,
  agent: Schema.optional(Schema.String),
  at: Schema.Number
}) {}

/**
 * A step ended. `usage`, `costUsd`, `attempts` and `cached` aggregate the LLM calls made inside
 * the step (`cached` is true when it made calls and every one was a cache hit). `output` is a
 * truncated rendering for display, never the full value.
 */
export class StepFinished extends Schema.TaggedClass<StepFinished>()("StepFinished", {
  runId: Schema.String,
  stepId: Schema.String,
  label: Schema.String,
  agent: Schema.optional(Schema.String),
  status: RunStatus,
  durationMs: Schema.Number,
  cached: Schema.Boolean,
  attempts: Schema.Number,
  calls: Schema.Number,
  usage: Usage,
  costUsd: Schema.Number,
  output: Schema.optional(Schema.String),
  error: Schema.optional(ErrorInfo),
  at: Schema.Number
}) {}

/** One attempt of an LLM call began (`attempt` counts from 1). */
export class LlmCallStarted extends Schema.TaggedClass<LlmCallStarted>()("LlmCallStarted", {
  runId: Schema.optional(Schema.String),
  stepId: Schema.optional(Schema.String),
  agent: Schema.optional(Schema.String),
  model: Schema.String,
  provider: Schema.String,
  attempt: Schema.Number,
  at: Schema.Number
}) {}

/**
 * A logical LLM call ended, after any retries: `attempt` is the number of attempts it took,
 * `durationMs` includes retries and waits, `costUsd` is the provider-reported cost when there is
 * one, else the `Pricing` table's. Cache hits have `cached: true` and cost 0.
 */
export class LlmCallFinished extends Schema.TaggedClass<LlmCallFinished>()("LlmCallFinished", {
  runId: Schema.optional(Schema.String),
  stepId: Schema.optional(Schema.String),
  agent: Schema.optional(Schema.String),
  model: Schema.String,
  provider: Schema.String,
  cached: Schema.Boolean,
  attempt: Schema.Number,
  usage: Usage,
  costUsd: Schema.Number,
  durationMs: Schema.Number,
  status: CallStatus,
  error: Schema.optional(ErrorInfo),
  at: Schema.Number
}) {}

/** An attempt failed with a retryable error; the next one starts after `delayMs`. */
export class Retrying extends Schema.TaggedClass<Retrying>()("Retrying", {
  runId: Schema.optional(Schema.String),
  stepId: Schema.optional(Schema.String),
  agent: Schema.optional(Schema.String),
  model: Schema.String,
  attempt: Schema.Number,
  delayMs: Schema.Number,
  reason: Schema.String,
  at: Schema.Number
}) {}

/** A circuit breaker changed state; `retryAt` (epoch ms) is when an open circuit lets a probe through. */
export class CircuitStateChanged extends Schema.TaggedClass<CircuitStateChanged>()("CircuitStateChanged", {
  breaker: Schema.String,
  from: BreakerState,
  to: BreakerState,
  retryAt: Schema.optional(Schema.Number),
  at: Schema.Number
}) {}

/** A call waited `waitMs` for a rate-limit permit of `key`. */
export class RateLimited extends Schema.TaggedClass<RateLimited>()("RateLimited", {
  runId: Schema.optional(Schema.String),
  stepId: Schema.optional(Schema.String),
  key: Schema.String,
  waitMs: Schema.Number,
  at: Schema.Number
}) {}

/** How a tool call ended: `error` covers both an error handed back to the model and one that failed the agent. */
export const ToolCallStatus = Schema.Literal("success", "error", "cancelled")
export type ToolCallStatus = typeof ToolCallStatus.Type

/** What both events of a tool call say about it; `arguments` is a truncated rendering (it may hold user data). */
const toolCallFields = {
  runId: Schema.optional(Schema.String),
  stepId: Schema.optional(Schema.String),
  agent: Schema.String,
  tool: Schema.String,
  callId: Schema.String,
  arguments: Schema.String
}

/** An agent began a tool call the model asked for. */
export class ToolCallStarted extends Schema.TaggedClass<ToolCallStarted>()("ToolCallStarted", {
  ...toolCallFields,
  at: Schema.Number
}) {}

/**
 * A tool call ended. `result` is a truncated rendering of what went back to the model (absent when
 * the call failed the agent or was cancelled); `error` says why it did not succeed.
 */
export class ToolCallFinished extends Schema.TaggedClass<ToolCallFinished>()("ToolCallFinished", {
  ...toolCallFields,
  status: ToolCallStatus,
  result: Schema.optional(Schema.String),
  error: Schema.optional(ErrorInfo),
  durationMs: Schema.Number,
  at: Schema.Number
}) {}

/**
 * More of a streamed answer arrived: `text` is what came since the step's previous `AnswerDelta`
 * (append them in order for the answer so far). Published only inside a run, at most about ten a
 * second per call, so the history and the API's SSE carry the growing answer without an event per
 * token; the complete answer is still in the step's `StepFinished`.
 */
export class AnswerDelta extends Schema.TaggedClass<AnswerDelta>()("AnswerDelta", {
  runId: Schema.String,
  stepId: Schema.optional(Schema.String),
  agent: Schema.optional(Schema.String),
  text: Schema.String,
  at: Schema.Number
}) {}

/**
 * Builds an event from fields already in the right shape, as `new Class(fields, true)` would (same
 * prototype, same own keys in the same order, `_tag` last) but without the constructor's copies
 * and default-merging pass, a visible share of an LLM call's cost. Only for classes whose one
 * defaulted field is `_tag`, which holds for every event here.
 */
export const unsafeMakeEvent = <C extends EventClass>(Class: C, fields: ConstructorParameters<C>[0]): InstanceType<C> => {
  const event = Object.create(Class.prototype) as Record<string, unknown>
  Object.assign(event, fields)
  event["_tag"] = Class._tag
  return event as InstanceType<C>
}

/** An event class as `unsafeMakeEvent` needs it. */
type EventClass = (new(fields: any, options?: boolean) => { readonly _tag: string }) & { readonly _tag: string }

/** Every lifecycle event; the schema encodes them to JSON for the SSE API and the run history. */
export const WorkflowEvent = Schema.Union(
  WorkflowStarted,
  WorkflowFinished,
  StepStarted,
  StepFinished,
  LlmCallStarted,
  LlmCallFinished,
  Retrying,
  CircuitStateChanged,
  RateLimited,
  ToolCallStarted,
  ToolCallFinished,
  AnswerDelta
)
export type WorkflowEvent = typeof WorkflowEvent.Type

/** The JSON form of an event (what `Schema.encode(WorkflowEvent)` produces). */
export type WorkflowEventJson = typeof WorkflowEvent.Encoded

// ---------------------------------------------------------------------------------------------
// The port
// ---------------------------------------------------------------------------------------------

/** Publishes lifecycle events and hands out subscriptions. */
export interface WorkflowEventsService {
  /** Publishes an event to every current subscriber. Never blocks on a slow subscriber and never fails. */
  readonly publish: (event: WorkflowEvent) => Effect.Effect<void>
  /**
   * A subscription that receives every event published after this effect completes, until the
   * scope closes. Subscribe before starting the work you want to observe.
   */
  readonly subscribe: Effect.Effect<Queue.Dequeue<WorkflowEvent>, never, Scope.Scope>
}

/** The event bus of effect-agents (see `layers/WorkflowEventsPubSub.ts`). */
export class WorkflowEvents extends Context.Tag("effect-agents/WorkflowEvents")<
  WorkflowEvents,
  WorkflowEventsService
>() {}

/** Publishes an event on the current `WorkflowEvents`. */
export const publish = (event: WorkflowEvent): Effect.Effect<void, never, WorkflowEvents> =>
  Effect.flatMap(WorkflowEvents, (events) => events.publish(event))

/** Subscribes to the current `WorkflowEvents` for the lifetime of the scope. */
export const subscribe: Effect.Effect<Queue.Dequeue<WorkflowEvent>, never, WorkflowEvents | Scope.Scope> =
  Effect.flatMap(WorkflowEvents, (events) => events.subscribe)

/**
 * The events as a Stream. The subscription is taken when the stream starts running, so events
 * published before that are not seen; use `subscribe` when that matters.
 */
export const stream: Stream.Stream<WorkflowEvent, never, WorkflowEvents> = Stream.unwrapScoped(
  Effect.map(subscribe, (queue) => Stream.fromQueue(queue))
)

/** Turns any failure into the `{ tag, message }` form events and history carry. */
export const errorInfo = (error: unknown): ErrorInfo => {
  if (typeof error === "object" && error !== null) {
    const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : error.constructor?.name ?? "Error"
    const message = "message" in error && typeof error.message === "string" && error.message.length > 0
      ? error.message
      : tag
    return { tag, message }
  }
  return { tag: "Error", message: String(error) }
}

/** Renders a value for display in a step or run row, at most `max` characters. */
export const truncate = (value: unknown, max = 500): string => {
  let text: string
  if (typeof value === "string") text = value
  else {
    try {
      text = JSON.stringify(value) ?? String(value)
    } catch {
      text = String(value)
    }
  }
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`
}
