/**
 * ModelFactory — the models a resilient `LanguageModel` calls, by reference.
 *
 * A reference is a string: `LLM_MODEL`, an entry of `LLM_FALLBACK_MODELS` or an agent's `model`.
 * `resolve` says what it stands for (provider, model id, the label shown in metrics, events and
 * history, and the key of its rate limiter and circuit breaker); `make` builds its `LanguageModel`,
 * once per reference, kept for the life of the resilient layer, keeping the layer's per-attempt
 * deadline. The provider adapters supply one (`LlmProvider.factory`); `layerModel` wraps a model of
 * your own.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as AiError from "@effect/ai/AiError"
import { Context, Duration, Effect, identity, Layer, type Scope } from "effect"
import { Timeout, toAiError } from "./LlmError.js"
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

/**
 * How long one call of a model may take (`LLM_TIMEOUT`), and what it fails with after that: a
 * `Timeout` carried as an `AiError`, which the resilient layer reads back as the `Timeout` it is.
 */
export interface Deadline {
  readonly duration: Duration.Duration
  readonly exceeded: (method: string) => AiError.AiError
}

/** The deadline of `timeout` for the model of `ref`. */
export const deadline = (ref: ModelRef, timeout: Duration.Duration): Deadline => {
  const timeoutMs = Duration.toMillis(timeout)
  return {
    duration: timeout,
    exceeded: (method) => toAiError(new Timeout({ provider: ref.provider, model: ref.label, timeoutMs }), method)
  }
}

/** Resolves model references and builds their models. */
export interface ModelFactoryService {
  readonly resolve: (ref: string) => ModelRef
  /**
   * The model of `ref`; its resources live as long as the scope. Each of its calls answers within
   * `deadline` or fails with `deadline.exceeded`, and is abandoned (interrupted, its request
   * aborted). An adapter that can keep time cheaply keeps it itself (the chat-completions direct
   * path arms one timer on its request); any other model is wrapped in `withDeadline`.
   */
  readonly make: (ref: ModelRef, deadline: Deadline) => Effect.Effect<LanguageModel.Service, never, Scope.Scope>
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
 * `model` with every call held to `deadline` (`Effect.timeoutFail`, on the fiber's clock, so a
 * `TestClock` keeps it in tests). Streams are passed through as they are.
 */
export const withDeadline = (model: LanguageModel.Service, deadline: Deadline): LanguageModel.Service => {
  // Every call's error type includes `AiError` (`ExtractError` always does), which TypeScript
  // cannot see through the generic conditional: hence the restated types.
  const timed = <A, E, R>(self: Effect.Effect<A, E, R>, method: string): Effect.Effect<A, E, R> =>
    Effect.timeoutFail(self, { duration: deadline.duration, onTimeout: () => deadline.exceeded(method) as E })
  return LanguageModel.LanguageModel.of({
    generateText: (options) => timed(model.generateText(options), "generateText"),
    generateObject: (options) => timed(model.generateObject(options), "generateObject"),
    streamText: model.streamText
  })
}

/**
 * A factory of one model: every reference resolves to `model`, labelled `name` under `provider`
 * (default `"custom"`), so agents that ask for other models are answered by this one too. An
 * agent's settings reach it in `WorkflowContext.current`.
 */
export const single = (name: string, model: LanguageModel.Service, provider = "custom"): ModelFactoryService => {
  const ref = refOf(provider, name)
  return {
    resolve: () => ref,
    make: (_, deadline) => Effect.succeed(withDeadline(model, deadline)),
    withSettings: () => identity
  }
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
