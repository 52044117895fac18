/**
 * CallSpans — what the spans of LLM calls say, when spans are exported.
 *
 * A logical call (`LanguageModel.generateText` / `generateObject`) is one span: the model asked
 * for, whether the cache answered, the attempts it took, its cost. Each attempt that reaches a
 * provider is a child span named after OpenTelemetry's GenAI conventions (`chat <model>`, kind
 * client) with their attributes: `gen_ai.operation.name`, `gen_ai.provider.name`,
 * `gen_ai.request.model`, `gen_ai.response.model` and `gen_ai.usage.*` when the answer says.
 * Only attempts carry `gen_ai.operation.name` and `gen_ai.usage.*`, so a backend summing them per
 * span counts every provider request and token once. Nothing here reads a prompt or an answer's text.
 */
import type { LanguageModel } from "@effect/ai"
import type * as Response from "@effect/ai/Response"
import { Duration, Option, type Tracer } from "effect"
import type { ModelRef } from "../services/ModelFactory.js"
import type { Call } from "./Call.js"
import type { Outcome } from "./CallTelemetry.js"

/** The run, step and agent of a call, as span attributes. */
const contextAttributes = (call: Call, attributes: Record<string, unknown>): Record<string, unknown> => {
  const { ctx } = call
  if (ctx.runId !== undefined) attributes["workflow.run_id"] = ctx.runId
  if (ctx.stepId !== undefined) attributes["workflow.step_id"] = ctx.stepId
  if (ctx.agent !== undefined) attributes["gen_ai.agent.name"] = ctx.agent
  return attributes
}

/** A call span as the call begins: the model asked for and whose behalf. */
export const callStarted = (span: Tracer.Span, call: Call): void => {
  const attributes = { "gen_ai.provider.name": call.model.provider, "gen_ai.request.model": call.model.label }
  for (const [key, value] of Object.entries(contextAttributes(call, attributes))) span.attribute(key, value)
}

/** A call span as the call ends: who answered, from the cache or not, in how many attempts, at what cost. */
export const callFinished = (span: Tracer.Span, outcome: Outcome): void => {
  span.attribute("llm.cache_hit", outcome.cached)
  span.attribute("llm.attempts", outcome.attempts)
  span.attribute("llm.model", outcome.model.label)
  span.attribute("llm.input_tokens", outcome.usage.inputTokens)
  span.attribute("llm.output_tokens", outcome.usage.outputTokens)
  span.attribute("llm.cost_usd", outcome.costUsd)
}

/** The options of attempt `attempt` of `call` on `model`, after a rate-limit wait of `waited`. */
export const attemptOptions = (call: Call, model: ModelRef, attempt: number, waited: Duration.Duration): Tracer.SpanOptions => {
  const attributes = contextAttributes(call, {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": model.provider,
    "gen_ai.request.model": model.label,
    "llm.attempt": attempt
  })
  const settings = call.ctx.settings
  if (settings?.temperature !== undefined) attributes["gen_ai.request.temperature"] = settings.temperature
  if (settings?.maxOutputTokens !== undefined) attributes["gen_ai.request.max_tokens"] = settings.maxOutputTokens
  if (settings?.topP !== undefined) attributes["gen_ai.request.top_p"] = settings.topP
  if (Duration.greaterThan(waited, Duration.zero)) attributes["llm.rate_limit_wait_ms"] = Duration.toMillis(waited)
  return { kind: "client", attributes }
}

/** The name of an attempt's span: `{gen_ai.operation.name} {gen_ai.request.model}`. */
export const attemptName = (model: ModelRef): string => `chat ${model.label}`

/** An attempt span once the provider answered: the model that did, the answer's id, finish reason and usage. */
export const attemptAnswered = (span: Tracer.Span, response: LanguageModel.GenerateTextResponse<{}>): void => {
  for (const part of response.content as ReadonlyArray<Response.AnyPart>) {
    if (part.type !== "response-metadata") continue
    if (Option.isSome(part.modelId)) span.attribute("gen_ai.response.model", part.modelId.value)
    if (Option.isSome(part.id)) span.attribute("gen_ai.response.id", part.id.value)
  }
  span.attribute("gen_ai.response.finish_reasons", [response.finishReason])
  const { inputTokens, outputTokens } = response.usage
  if (inputTokens !== undefined) span.attribute("gen_ai.usage.input_tokens", inputTokens)
  if (outputTokens !== undefined) span.attribute("gen_ai.usage.output_tokens", outputTokens)
}
