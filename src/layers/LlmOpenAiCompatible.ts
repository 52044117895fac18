/**
 * LlmOpenAiCompatible — `LanguageModel` over any OpenAI-compatible `/chat/completions` server:
 * OpenAI, OpenRouter (one flavour of it, see `LlmOpenRouter`), Ollama, vLLM, the test fake.
 *
 * Built on `@effect/ai-openrouter`, whose client speaks the common chat-completions dialect;
 * plain-text, structured-output and tool-calling calls, and streams of plain prompts, take a faster
 * direct path (`internal/chatCompletionsDirect`) that sends the same request and gives the same
 * response (or stream parts) and errors. Every error leaving this
 * adapter is redacted (`internal/redaction`): the package's errors can carry the `Authorization`
 * header in clear.
 */
import type * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as HttpClient from "@effect/platform/HttpClient"
import { Duration, Effect, Layer, Option, Redacted, type Scope, Stream } from "effect"
import { AppConfig, type AppConfigShape } from "../services/AppConfig.js"
import { type Deadline, withDeadline } from "../services/ModelFactory.js"
import * as Direct from "../internal/chatCompletionsDirect.js"
import { OpenRouterClient, OpenRouterLanguageModel } from "../internal/openRouterPackage.js"
import { redactAiError, secretTexts } from "../internal/redaction.js"

/** OpenAI's own endpoint, used by `LLM_PROVIDER=openai` when `LLM_BASE_URL` is not set. */
export const OPENAI_BASE_URL = "https://api.openai.com/v1"

/** OpenRouter's endpoint (the provider package's default), spelled out for labels and docs. */
export const OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"

/** What `make` needs: the model, the endpoint and the (optional) key. */
export interface Options {
  readonly model: string
  /** `undefined` for the package's default, OpenRouter. */
  readonly apiUrl?: string | undefined
  /** Sent as `Authorization: Bearer ...`; omitted for keyless local servers (Ollama). */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** OpenRouter's app attribution header (`X-Title`); only sent to OpenRouter. */
  readonly title?: string | undefined
  /** `false` sends every call through `@effect/ai-openrouter` (the parity test compares both). */
  readonly direct?: boolean | undefined
  /**
   * Each call answers within it or fails with its error, its request aborted: on the direct path
   * by one timer on the request, on the package's by `ModelFactory.withDeadline`.
   */
  readonly deadline?: Deadline | undefined
}

/** The package's model over `HttpClient`, every error redacted. */
const makePackageModel = (options: Options, redact: (error: AiError.AiError) => AiError.AiError) =>
  Effect.gen(function*() {
    const client = yield* OpenRouterClient.make({
      apiUrl: options.apiUrl,
      apiKey: options.apiKey,
      title: options.title,
      transformClient: HttpClient.filterStatusOk
    })
    const safeClient = OpenRouterClient.OpenRouterClient.of({
      client: client.client,
      createChatCompletion: (request) => Effect.mapError(client.createChatCompletion(request), redact),
      createChatCompletionStream: (request) => Stream.mapError(client.createChatCompletionStream(request), redact)
    })
    return yield* OpenRouterLanguageModel.make({ model: options.model }).pipe(
      Effect.provideService(OpenRouterClient.OpenRouterClient, safeClient)
    )
  })

/** The endpoint and headers of the direct path: the ones the package sends. */
const directEndpoint = (options: Options): Direct.Endpoint => ({
  url: `${options.apiUrl ?? OPENROUTER_BASE_URL}/chat/completions`,
  headers: {
    accept: "application/json",
    "content-type": "application/json",
    ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${Redacted.value(options.apiKey)}` }),
    ...(options.title === undefined ? {} : { "x-title": options.title })
  }
})

/**
 * Builds a `LanguageModel` for one model over an OpenAI-compatible endpoint.
 *
 * Plain-text and structured-output calls take the direct path, with tools when the caller runs
 * their calls (agents do), and so do streams of plain prompts; tools for `LanguageModel` to run,
 * and prompts with files or provider options go through `@effect/ai-openrouter`, where non-2xx answers are
 * turned into errors by the HTTP client itself (`filterStatusOk`). On both paths every status —
 * 429 as much as 503 — yields an `HttpResponseError` with its headers (Retry-After) and body, and
 * every error is redacted. Interrupting a call aborts its request; so does `deadline`.
 */
export const make = (options: Options): Effect.Effect<LanguageModel.Service, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const secrets = secretTexts(options.apiKey)
    const redact = (error: AiError.AiError) => redactAiError(error, secrets)
    const { deadline } = options
    const packageModel = yield* makePackageModel(options, redact)
    const viaPackage = deadline === undefined ? packageModel : withDeadline(packageModel, deadline)
    const direct = options.direct === false ? undefined : yield* Direct.make(options.model, directEndpoint(options))
    const limitOf = (method: string): Direct.TimeLimit | undefined =>
      deadline === undefined
        ? undefined
        : { millis: Duration.toMillis(deadline.duration), onTimeout: () => deadline.exceeded(method) }
    const limits = { generateText: limitOf("generateText"), generateObject: limitOf("generateObject") }
    const generate = (method: "generateText" | "generateObject", callOptions: Direct.CallOptions) =>
      Effect.flatMap(OpenRouterLanguageModel.Config.getOrUndefined, (config) => {
        const call = direct?.generate(config, callOptions, limits[method])
        if (call !== undefined) return Effect.mapError(call, redact)
        return (method === "generateObject"
          ? viaPackage.generateObject(callOptions as never)
          : viaPackage.generateText(callOptions as never)) as Effect.Effect<unknown, AiError.AiError>
      })
    // The casts restate the generic signatures: both paths answer with what the package's would.
    return LanguageModel.LanguageModel.of({
      generateText: ((callOptions: Direct.CallOptions) => generate("generateText", callOptions)) as unknown as LanguageModel.Service["generateText"],
      generateObject: ((callOptions: Direct.CallOptions) => generate("generateObject", callOptions)) as unknown as LanguageModel.Service["generateObject"],
      streamText: ((callOptions: Direct.CallOptions) =>
        Stream.unwrap(Effect.map(OpenRouterLanguageModel.Config.getOrUndefined, (config) => {
          const stream = direct?.stream(config, callOptions)
          return stream === undefined ? viaPackage.streamText(callOptions as never) : Stream.mapError(stream, redact)
        }))) as unknown as LanguageModel.Service["streamText"]
    })
  })

/** Which flavour of the chat-completions API a configuration selects. */
export type Flavour = "openrouter" | "openai"

/**
 * The `Options` a configuration implies for `model` (default: `config.llm.model`). OpenRouter uses
 * `LLM_BASE_URL` when set, else its own endpoint, and sends its attribution title; OpenAI-compatible
 * uses `LLM_BASE_URL` or api.openai.com, and sends no key when none is configured (local servers
 * need none).
 */
export const optionsFromConfig = (config: AppConfigShape, flavour: Flavour, model: string = config.llm.model): Options => {
  const baseUrl = Option.getOrUndefined(config.llm.baseUrl)
  return flavour === "openrouter"
    ? {
      model,
      apiUrl: baseUrl,
      apiKey: Option.getOrUndefined(config.llm.openrouterApiKey),
      title: "effect-agents"
    }
    : {
      model,
      apiUrl: baseUrl ?? OPENAI_BASE_URL,
      apiKey: Option.getOrUndefined(config.llm.openaiApiKey)
    }
}

/** `LanguageModel` of one flavour, from `AppConfig`. */
export const layerFlavour = (flavour: Flavour): Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | HttpClient.HttpClient> =>
  Layer.scoped(
    LanguageModel.LanguageModel,
    Effect.flatMap(AppConfig, (config) => make(optionsFromConfig(config, flavour)))
  )

/** `LanguageModel` for `LLM_PROVIDER=openai` (OpenAI or any compatible server), from `AppConfig`. */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | HttpClient.HttpClient> = layerFlavour("openai")
