/**
 * LlmProvider — picks the `LanguageModel` adapter named by `LLM_PROVIDER`: OpenRouter, an
 * OpenAI-compatible server, Gemini, or the in-process simulation.
 *
 * `makeModel(config, model)` builds the same provider for another model id, and `factory` resolves
 * model references (`model`, or `provider:model` for another provider) into the `ModelFactory` the
 * resilient layer calls its models through: fallbacks and agents' own models included. The HTTP client given to the
 * provider packages is undici through `@effect/platform-node` (faster than fetch here, see the README's performance section);
 * the chat-completions adapter sends its plain calls on its own undici pool (see `LlmOpenAiCompatible`).
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, Schema, type Scope } from "effect"
import { applySettings } from "../internal/modelSettings.js"
import { AppConfig, type AppConfigShape, type ProviderName } from "../services/AppConfig.js"
import { type Deadline, ModelFactory, type ModelFactoryService, type ModelRef, withDeadline } from "../services/ModelFactory.js"
import { keyOf } from "../services/RateLimiter.js"
import * as LlmGoogle from "./LlmGoogle.js"
import * as LlmOpenAiCompatible from "./LlmOpenAiCompatible.js"
import * as LlmSimulated from "./LlmSimulated.js"

/**
 * The provider name used in metrics, events, history and the dashboard: "openrouter", "openai",
 * "google" or "simulated".
 */
export const providerLabel = (config: AppConfigShape): string => config.llm.provider

/** The model id as it is shown and recorded: simulated models always read `simulated-*`. */
export const modelLabel = (config: AppConfigShape, model: string = config.llm.model): string =>
  config.llm.provider === "simulated" ? LlmSimulated.modelId(model) : model

/**
 * A `LanguageModel` of the configured provider for `model` (default `config.llm.model`), each call
 * held to `deadline` when one is given. The simulated provider ignores the HTTP client; Gemini's
 * client needs the scope.
 */
export const makeModel = (
  config: AppConfigShape,
  model: string = config.llm.model,
  deadline?: Deadline
): Effect.Effect<LanguageModel.Service, never, HttpClient.HttpClient | Scope.Scope> => {
  switch (config.llm.provider) {
    case "openrouter":
    case "openai":
      return LlmOpenAiCompatible.make({
        ...LlmOpenAiCompatible.optionsFromConfig(config, config.llm.provider, model),
        deadline
      })
    case "google":
      return Effect.map(
        LlmGoogle.make(LlmGoogle.optionsFromConfig(config, model)),
        (made) => (deadline === undefined ? made : withDeadline(made, deadline))
      )
    case "simulated":
      return LlmSimulated.make({ ...LlmSimulated.optionsFromConfig(config, model), deadline })
  }
}

/** A Layer of the configured provider for one model id (for fallbacks). */
export const modelLayer = (
  config: AppConfigShape,
  model: string
): Layer.Layer<LanguageModel.LanguageModel, never, HttpClient.HttpClient> =>
  Layer.scoped(LanguageModel.LanguageModel, makeModel(config, model))

/** The configured provider and model, from `AppConfig`; the caller supplies the HTTP client. */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | HttpClient.HttpClient> = Layer.scoped(
  LanguageModel.LanguageModel,
  Effect.flatMap(AppConfig, (config) => makeModel(config))
)

/** The HTTP client the provider adapters run on: undici with a keep-alive dispatcher. */
export const layerHttpClient: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici

/** `layer` with its HTTP client included: all `main.ts` needs besides `AppConfig`. */
export const layerNode: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig> = layer.pipe(
  Layer.provide(layerHttpClient)
)

/**
 * A model reference: `model` (the configured provider) or `provider:model` for another provider,
 * as `LLM_FALLBACK_MODELS` allows. OpenRouter ids such as `meta-llama/llama-3-8b:free` keep their
 * colon because their prefix is not a provider name.
 */
export const parseModelRef = (
  ref: string,
  defaultProvider: ProviderName
): { readonly provider: ProviderName; readonly model: string } => {
  const colon = ref.indexOf(":")
  if (colon > 0) {
    const prefix = ref.slice(0, colon)
    if (isProviderName(prefix)) return { provider: prefix, model: ref.slice(colon + 1) }
  }
  return { provider: defaultProvider, model: ref }
}

// Built once: `Schema.is(...)` compiles a validator on every use.
const isProviderName = Schema.is(Schema.Literal("openrouter", "openai", "google", "simulated"))

/** The configuration of `config` pointed at another provider. */
const withProvider = (config: AppConfigShape, provider: ProviderName): AppConfigShape =>
  provider === config.llm.provider ? config : { ...config, llm: { ...config.llm, provider } }

/**
 * The models of the configured providers. A reference on another provider than `LLM_PROVIDER` is
 * labelled `provider:model`; the simulated provider's models read `simulated-*`.
 */
export const factory = (config: AppConfigShape): Effect.Effect<ModelFactoryService, never, HttpClient.HttpClient> =>
  Effect.map(Effect.context<HttpClient.HttpClient>(), (context) => {
    const providerOf = (ref: ModelRef): ProviderName => parseModelRef(ref.ref, config.llm.provider).provider
    return {
      resolve: (ref): ModelRef => {
        const { model, provider } = parseModelRef(ref, config.llm.provider)
        const shown = modelLabel(withProvider(config, provider), model)
        return {
          ref,
          provider,
          model,
          label: provider === config.llm.provider ? shown : `${provider}:${shown}`,
          key: keyOf(provider, model)
        }
      },
      make: (ref, deadline) =>
        makeModel(withProvider(config, providerOf(ref)), ref.model, deadline).pipe(Effect.provide(context)),
      withSettings: (ref, settings) => applySettings(providerOf(ref), settings)
    }
  })

/** `factory` of `AppConfig`, on the undici HTTP client. */
export const factoryLayer: Layer.Layer<ModelFactory, never, AppConfig> = Layer.effect(
  ModelFactory,
  Effect.flatMap(AppConfig, factory)
).pipe(Layer.provide(layerHttpClient))
