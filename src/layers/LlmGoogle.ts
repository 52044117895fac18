/**
 * LlmGoogle — `LanguageModel` over Gemini's `generateContent` API, through `@effect/ai-google`.
 *
 * The key travels in the `x-goog-api-key` header, which the platform's default redaction list does
 * not name. The package adds it to that list only inside its own layer's scope, not in the fibers
 * that make the calls, so the HTTP client's span attributes would carry the key in clear. Each call
 * here runs with the header added to `Headers.currentRedactedNames`, and errors go through the same
 * `redactAiError` (`internal/redaction`) as the OpenAI-compatible adapter.
 */
import type * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import { Effect, Layer, Option, type Redacted, type Scope, Stream } from "effect"
import { AppConfig, type AppConfigShape } from "../services/AppConfig.js"
import { GoogleClient, GoogleLanguageModel } from "../internal/googlePackage.js"
import { redactAiError, secretTexts } from "../internal/redaction.js"

/** Gemini's endpoint (the provider package's default). */
export const GOOGLE_BASE_URL = "https://generativelanguage.googleapis.com"

const API_KEY_HEADER = "x-goog-api-key"

const addKeyHeader = (names: ReadonlyArray<string | RegExp>): ReadonlyArray<string | RegExp> =>
  names.includes(API_KEY_HEADER) ? names : [...names, API_KEY_HEADER]

const keyRedacted = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.locallyWith(self, Headers.currentRedactedNames, addKeyHeader)

const keyRedactedStream = <A, E, R>(self: Stream.Stream<A, E, R>) =>
  Stream.unwrapScoped(Effect.as(Effect.locallyScopedWith(Headers.currentRedactedNames, addKeyHeader), self))

/** What `make` needs: the model, the endpoint and the key. */
export interface Options {
  readonly model: string
  /** Root of the API (the client appends `/v1beta/models/...`); `undefined` for Google's own. */
  readonly apiUrl?: string | undefined
  readonly apiKey?: Redacted.Redacted<string> | undefined
}

/**
 * Builds a `LanguageModel` for one Gemini model. Non-2xx answers become `HttpResponseError`s with
 * their headers and body (Retry-After included); every error is redacted before it leaves.
 */
export const make = (options: Options): Effect.Effect<LanguageModel.Service, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const secrets = secretTexts(options.apiKey)
    const redact = (error: AiError.AiError) => redactAiError(error, secrets)
    const client = yield* GoogleClient.make({
      apiUrl: options.apiUrl,
      apiKey: options.apiKey,
      transformClient: HttpClient.filterStatusOk
    })
    const safeClient = GoogleClient.GoogleClient.of({
      client: client.client,
      streamRequest: (request, schema) => keyRedactedStream(Stream.mapError(client.streamRequest(request, schema), redact)),
      generateContent: (request) => keyRedacted(Effect.mapError(client.generateContent(request), redact)),
      generateContentStream: (request) => keyRedactedStream(Stream.mapError(client.generateContentStream(request), redact))
    })
    return yield* GoogleLanguageModel.make({ model: options.model }).pipe(
      Effect.provideService(GoogleClient.GoogleClient, safeClient)
    )
  })

/** The `Options` a configuration implies for `model` (default: `config.llm.model`). */
export const optionsFromConfig = (config: AppConfigShape, model: string = config.llm.model): Options => ({
  model,
  apiUrl: Option.getOrUndefined(config.llm.baseUrl),
  apiKey: Option.getOrUndefined(config.llm.googleApiKey)
})

/** `LanguageModel` for `LLM_PROVIDER=google`, from `AppConfig` (`LLM_BASE_URL` overrides the endpoint). */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | HttpClient.HttpClient> = Layer.scoped(
  LanguageModel.LanguageModel,
  Effect.flatMap(AppConfig, (config) => make(optionsFromConfig(config)))
)
