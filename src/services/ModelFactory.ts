/**
 * ModelFactory — the models a resilient `LanguageModel` calls, by reference.
 *
 * A reference is a string: `LLM_MODEL`, an entry of `LLM_FALLBACK_MODELS` or an agent's `model`.
 * `resolve` says what it stands for (provider, model id, the label shown in metrics, events and
 * history, and the key of its rate limiter and circuit breaker); `make` builds its `LanguageModel`,
 * once per reference, kept for the life of the resilient layer. The provider adapters supply one
 * (`LlmProvider.factory`); `layerModel` wraps a model of your own.
 */
import { LanguageModel } from "@effect/ai"
import { Context, Effect, identity, Layer, type Scope } from "effect"
import type { ModelSettings } from "./WorkflowContext.js"
import { keyOf } from "./RateLimiter.js"

/** What a model reference stands for, resolved once. */
export interface ModelRef {
  /** The reference as written. */
  readonly ref: string
  /** The provider, as metrics (`gen_ai_provider_name`), events and history name it. */
  readonly provider: string
  /** The provider's model id (part of the cache key). */
  readonly model: string
  /** The model as shown and recorded (`model` label of the `llm_*` metrics). */
  readonly label: string
  /** The rate limiter and circuit breaker key: `provider:model`. */
  readonly key: string
}

/** Resolves model references and builds their models. */
export interface ModelFactoryService {
  readonly resolve: (ref: string) => ModelRef
  /** The model of `ref`; its resources live as long as the scope. */
  readonly make: (ref: ModelRef) => Effect.Effect<LanguageModel.Service, never, Scope.Scope>
  /**
   * Runs a call of `ref`'s model with an agent's settings (temperature, max output tokens, top-p)
   * applied, as the model's provider takes them; the identity for a model that reads them itself
   * (they are in `WorkflowContext.current`) or ignores them.
   */
  readonly withSettings: (
    ref: ModelRef,
    settings: ModelSettings
  ) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** The service tag: `yield* ModelFactory` gives the factory the resilient layer calls through. */
export class ModelFactory extends Context.Tag("effect-agents/ModelFactory")<ModelFactory, ModelFactoryService>() {}

/** A reference resolved as itself: model id and label `model`, under `provider`. */
export const refOf = (provider: string, model: string, label: string = model): ModelRef => ({
  ref: model,
  provider,
  model,
  label,
  key: keyOf(provider, model)
})

/**
 * A factory of one model: every reference resolves to `model`, labelled `name` under `provider`
 * (default `"custom"`), so agents that ask for other models are answered by this one too. An
 * agent's settings reach it in `WorkflowContext.current`.
 */
export const single = (name: string, model: LanguageModel.Service, provider = "custom"): ModelFactoryService => {
  const ref = refOf(provider, name)
  return { resolve: () => ref, make: () => Effect.succeed(model), withSettings: () => identity }
}

/**
 * Your own `LanguageModel` as the factory: provide it below this layer, and the resilient layer
 * above gives it the cache, single-flight, retries, breaker, limiter, timeout, metrics and events,
 * recorded under `name`.
 *
 * ```ts
 * ResilientLanguageModel.layerFromConfig.pipe(
 *   Layer.provide(ModelFactory.layerModel("my-llama")),
 *   Layer.provide(myLanguageModelLayer)
 * )
 * ```
 */
export const layerModel = (
  name: string,
  options: { readonly provider?: string } = {}
): Layer.Layer<ModelFactory, never, LanguageModel.LanguageModel> =>
  Layer.effect(ModelFactory, Effect.map(LanguageModel.LanguageModel, (model) => single(name, model, options.provider)))
