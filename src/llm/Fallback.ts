/**
 * Fallback — a call whose model failed goes on to the next model of its chain (the model asked for,
 * then `LLM_FALLBACK_MODELS` in order) while the failure is the provider's: retryable after that
 * model's own retries, or an open circuit. An `ExecutionPlan` whose steps provide the model to try.
 */
import type { NonEmptyReadonlyArray } from "effect/Array"
import { Context, Effect, ExecutionPlan, Layer } from "effect"
import { isRetryable, type LlmError } from "../services/LlmError.js"
import type { ModelRef } from "../services/ModelFactory.js"

/** The model a step of the plan tries. */
export class CurrentModel extends Context.Tag("effect-agents/llm/CurrentModel")<CurrentModel, ModelRef>() {}

/** Failures that move a call to the next model. */
export const fallsBack = (error: LlmError): boolean => isRetryable(error) || error._tag === "CircuitOpen"

/**
 * Runs `onModel` on each model of `chain` in turn until one succeeds or a failure is not worth
 * another model; `onFallback` runs before each move (for the log). The last failure is returned.
 */
export const withFallbacks = <A>(
  chain: NonEmptyReadonlyArray<ModelRef>,
  onModel: (model: ModelRef) => Effect.Effect<A, LlmError>,
  onFallback: (from: ModelRef, to: ModelRef, error: LlmError) => Effect.Effect<void>
): Effect.Effect<A, LlmError> => {
  const [first, ...rest] = chain
  if (rest.length === 0) return onModel(first)
  const steps = chain.map((model, i) => ({
    provide: Layer.succeed(CurrentModel, model),
    while: (error: LlmError) =>
      i > 0 && fallsBack(error) ? Effect.as(onFallback(chain[i - 1]!, model, error), true) : Effect.succeed(false)
  }))
  const plan: ExecutionPlan.ExecutionPlan<{
    provides: CurrentModel
    input: LlmError
    error: never
    requirements: never
  }> = ExecutionPlan.make(...(steps as [typeof steps[number], ...Array<typeof steps[number]>]))
  return Effect.withExecutionPlan(Effect.flatMap(CurrentModel, onModel), plan)
}
