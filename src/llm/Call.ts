/**
 * Call — one logical LLM call as the stages of the resilient layer see it: what was asked, on
 * whose behalf, of which model, and when it started. Read once, as the call begins.
 */
import type { LanguageModel } from "@effect/ai"
import type { Clock, Effect, Tracer } from "effect"
import type { CallOptions } from "../services/LlmCacheKey.js"
import type { ModelRef } from "../services/ModelFactory.js"
import type { WorkflowContextValue } from "../services/WorkflowContext.js"

export type Method = "generateText" | "generateObject"

export interface Call {
  readonly method: Method
  readonly options: CallOptions
  /** Asks a model: `model[method](options)`, typed where the caller's options are known. */
  readonly ask: (model: LanguageModel.Service) => Effect.Effect<LanguageModel.GenerateTextResponse<{}>, unknown>
  /** The calling fiber's run, step, agent, model and settings. */
  readonly ctx: WorkflowContextValue
  /** The calling fiber's clock, and its time when the call began (epoch ms). */
  readonly clock: Clock.Clock
  readonly started: number
  /** The model asked for (the agent's, else the layer's primary). */
  readonly model: ModelRef
  /** The prompt's estimated tokens, for the rate limiter and the budget's reservation. */
  readonly tokens: number
  /** The call's span, when spans are exported (`CallSpans`). */
  readonly span: Tracer.Span | undefined
}
