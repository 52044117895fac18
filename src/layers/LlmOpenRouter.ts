/**
 * LlmOpenRouter — `LanguageModel` over OpenRouter or any OpenAI-compatible `/chat/completions`
 * server (OpenAI, Ollama, vLLM, the test fake), through `@effect/ai-openrouter`.
 *
 * The provider package builds errors that carry the request's headers, and for some status codes
 * it copies them without redaction, so a plain `JSON.stringify(error)` would print
 * `Authorization: Bearer <key>`. Every error leaving this adapter goes through `redactAiError`,
 * which blanks credential headers and scrubs the key's text from bodies and descriptions.
 */
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as OpenRouterClient from "@effect/ai-openrouter/OpenRouterClient"
import * as OpenRouterLanguageModel from "@effect/ai-openrouter/OpenRouterLanguageModel"
import * as HttpClient from "@effect/platform/HttpClient"
import { Duration, Effect, Layer, Option, Redacted, type Scope, Stream } from "effect"
import { AppConfig, type AppConfigShape } from "../services/AppConfig.js"
import * as Direct from "../internal/chatCompletionsDirect.js"
import { type Deadline, type TimedCall, TimedCalls, type TimedMethod, timeoutFail } from "../internal/timeout.js"

/** OpenAI's own endpoint, used by `LLM_PROVIDER=openai` when `LLM_BASE_URL` is not set. */
export const OPENAI_BASE_URL = "https://api.openai.com/v1"

/** OpenRouter's endpoint (the provider package's default), spelled out for labels and docs. */
export const OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

const REDACTED = "<redacted>"

/** Header names whose values are credentials, whatever the provider. */
const SENSITIVE_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api-key|x-goog-api-key)$/i

const scrub = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join(REDACTED)
  return out
}

const scrubOptional = (text: string | undefined, secrets: ReadonlyArray<string>): string | undefined =>
  text === undefined ? undefined : scrub(text, secrets)

// Copies into a plain object: platform `Headers` only redact themselves inside a logger, not in
// `JSON.stringify`, so the copy is what makes the redaction hold everywhere.
const cleanHeaders = (headers: Readonly<Record<string, unknown>>, secrets: ReadonlyArray<string>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    out[name] = SENSITIVE_HEADER.test(name) ? REDACTED : scrub(Redacted.isRedacted(value) ? REDACTED : String(value), secrets)
  }
  return out
}

type RequestDetails = AiError.HttpRequestError["request"]

const cleanRequest = (request: RequestDetails, secrets: ReadonlyArray<string>): RequestDetails => ({
  ...request,
  url: scrub(request.url, secrets),
  urlParams: request.urlParams.map(([k, v]) => [k, SENSITIVE_HEADER.test(k) || /key|token/i.test(k) ? REDACTED : scrub(v, secrets)] as const),
  headers: cleanHeaders(request.headers, secrets)
})

/**
 * The response body as the provider sent it. `@effect/ai` stores `Inspectable.format(body)`, which
 * quotes text bodies, and for a JSON-typed body that fails to parse it stores the formatted decode
 * error (a dump of the request) instead of the text — that dump is dropped here, the text is lost.
 */
const rawBody = (body: string | undefined): string | undefined => {
  if (body === undefined || !body.startsWith("\"") && !body.includes("\"_tag\": \"ResponseError\"")) return body
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === "string") return parsed
    if (typeof parsed === "object" && parsed !== null && "_tag" in parsed && parsed._tag === "ResponseError") return undefined
  } catch {
    // Not a formatted value: keep it as it is.
  }
  return body
}

/** The innermost message of a cause chain, as a plain Error that holds no request object. */
const plainCause = (cause: unknown, secrets: ReadonlyArray<string>): Error | undefined => {
  if (cause === undefined) return undefined
  let inner: unknown = cause
  for (let i = 0; i < 5 && typeof inner === "object" && inner !== null && "cause" in inner && inner.cause !== undefined; i++) {
    inner = inner.cause
  }
  const message = inner instanceof Error ? inner.message : typeof inner === "string" ? inner : String(inner)
  const error = new Error(scrub(message, secrets))
  if (inner instanceof Error) error.name = inner.name
  const code = typeof inner === "object" && inner !== null && "code" in inner ? inner.code : undefined
  if (typeof code === "string") Object.assign(error, { code })
  return error
}

/** The provider's own error message from a JSON error body (`{"error":{"message":...}}`), if any. */
const providerMessage = (body: string | undefined): string | undefined => {
  if (body === undefined || body.length === 0 || body.length > 64 * 1024) return undefined
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === "object" && parsed !== null && "error" in parsed) {
      const error = parsed.error
      if (typeof error === "string") return error
      if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
        return error.message
      }
    }
  } catch {
    // Not JSON: no structured message to lift.
  }
  return undefined
}

/**
 * Returns a copy of an `AiError` that is safe to log, serialise or show: credential headers are
 * `<redacted>`, every occurrence of a secret's text is replaced, and transport causes are reduced to
 * their message (the platform's request object inside them carries the headers). For HTTP status
 * errors the provider's own error message, when its body has one, becomes the description.
 */
export const redactAiError = (error: AiError.AiError, secrets: ReadonlyArray<string>): AiError.AiError => {
  switch (error._tag) {
    case "HttpRequestError": {
      const cause = plainCause(error.cause, secrets)
      // Transport errors often come without a description; the socket's own words help a person.
      const description = scrubOptional(error.description, secrets) ??
        (cause === undefined ? undefined : `${cause.name}: ${cause.message}`)
      return new AiError.HttpRequestError({
        module: error.module,
        method: error.method,
        reason: error.reason,
        request: cleanRequest(error.request, secrets),
        ...(description === undefined ? {} : { description }),
        ...(cause === undefined ? {} : { cause })
      }, { disableValidation: true })
    }
    case "HttpResponseError": {
      const body = scrubOptional(rawBody(error.body), secrets)
      const lifted = error.reason === "StatusCode" ? providerMessage(body) : undefined
      const description = lifted ?? scrubOptional(error.description, secrets) ?? (
        error.reason === "Decode"
          ? "the response body is not valid JSON"
          : error.reason === "EmptyBody" ? "the response body is empty" : undefined
      )
      return new AiError.HttpResponseError({
        module: error.module,
        method: error.method,
        reason: error.reason,
        request: cleanRequest(error.request, secrets),
        response: { status: error.response.status, headers: cleanHeaders(error.response.headers, secrets) },
        ...(body === undefined ? {} : { body }),
        ...(description === undefined ? {} : { description })
      }, { disableValidation: true })
    }
    case "MalformedInput":
    case "MalformedOutput":
    case "UnknownError": {
      const description = scrubOptional(error.description, secrets)
      if (description === error.description) return error
      const Ctor = error._tag === "MalformedInput"
        ? AiError.MalformedInput
        : error._tag === "MalformedOutput" ? AiError.MalformedOutput : AiError.UnknownError
      return new Ctor({
        module: error.module,
        method: error.method,
        ...(description === undefined ? {} : { description }),
        ...(error.cause === undefined ? {} : { cause: error.cause })
      }, { disableValidation: true })
    }
  }
}

/** The plain text of the secrets an adapter must never reveal. */
export const secretTexts = (...secrets: ReadonlyArray<Option.Option<Redacted.Redacted<string>> | Redacted.Redacted<string> | undefined>): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const s of secrets) {
    if (s === undefined) continue
    if (Redacted.isRedacted(s)) out.push(Redacted.value(s))
    else if (Option.isSome(s)) out.push(Redacted.value(s.value))
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// The adapter
// ---------------------------------------------------------------------------------------------

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

/** The headers the package sends, for the direct path. */
const directHeaders = (options: Options): Record<string, string> => ({
  accept: "application/json",
  "content-type": "application/json",
  ...(options.apiKey === undefined ? {} : { authorization: `Bearer ${Redacted.value(options.apiKey)}` }),
  ...(options.title === undefined ? {} : { "x-title": options.title })
})

/**
 * Builds a `LanguageModel` for one model over an OpenRouter/OpenAI-style endpoint.
 *
 * Plain-text and structured-output calls take the direct path (`internal/chatCompletionsDirect`):
 * the same request on the wire and the same response, at a fraction of the CPU. Tool calls, prompts
 * with files or provider options, and streams go through `@effect/ai-openrouter`, where non-2xx
 * answers are turned into errors by the HTTP client itself (`filterStatusOk`). On both paths every
 * status — 429 as much as 503 — yields an `HttpResponseError` with its headers (Retry-After) and
 * body, and all errors are redacted (see `redactAiError`).
 */
export const make = (options: Options): Effect.Effect<LanguageModel.Service, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const secrets = secretTexts(options.apiKey)
    const redact = (error: AiError.AiError) => redactAiError(error, secrets)
    const viaPackage = yield* makePackageModel(options, redact)
    const pool = yield* Effect.acquireRelease(
      Effect.sync(Direct.makePool),
      (pool) => Effect.promise(() => pool.close())
    )
    const endpoint: Direct.Endpoint = {
      url: `${options.apiUrl ?? OPENROUTER_BASE_URL}/chat/completions`,
      headers: directHeaders(options)
    }
    /**
     * The direct path for a call it can express, else the package. With a `deadline` (the
     * resilient layer's per-attempt timeout, live clock only) the direct path arms its own timer.
     */
    const generate = <E2 = never>(method: TimedMethod, callOptions: Direct.CallOptions, deadline?: Deadline<E2>) =>
      Effect.flatMap(OpenRouterLanguageModel.Config.getOrUndefined, (config) => {
        const prepared = options.direct === false ? undefined : Direct.prepare(options.model, config, callOptions)
        if (prepared === undefined) {
          const viaPackageCall = (method === "generateObject"
            ? viaPackage.generateObject(callOptions as never)
            : viaPackage.generateText(callOptions as never)) as Effect.Effect<unknown, AiError.AiError>
          return deadline === undefined
            ? viaPackageCall
            : timeoutFail(viaPackageCall, Duration.millis(deadline.ms), deadline.onTimeout)
        }
        return Direct.send(pool, endpoint, prepared.body, deadline).pipe(
          Effect.flatMap((parts) => Direct.respond(prepared, parts)),
          Effect.mapError((error) => AiError.isAiError(error) ? redact(error) : error)
        )
      })
    const timed: TimedCall = (method, callOptions, deadline) => generate(method, callOptions as Direct.CallOptions, deadline)
    return Object.assign(
      LanguageModel.LanguageModel.of({
        generateText: ((callOptions: Direct.CallOptions) => generate("generateText", callOptions)) as unknown as LanguageModel.Service["generateText"],
        generateObject: ((callOptions: Direct.CallOptions) => generate("generateObject", callOptions)) as unknown as LanguageModel.Service["generateObject"],
        streamText: viaPackage.streamText
      }),
      { [TimedCalls]: timed }
    )
  })

/** Which flavour of the chat-completions API a configuration selects. */
export type Flavour = "openrouter" | "openai"

/**
 * The `Options` a configuration implies for `model` (default: `config.llm.model`). OpenRouter uses
 * `LLM_BASE_URL` when set, else its own endpoint; OpenAI-compatible uses `LLM_BASE_URL` or
 * api.openai.com, and sends no key when none is configured (local servers need none).
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

/** `LanguageModel` for `LLM_PROVIDER=openrouter`, from `AppConfig`. */
export const layer: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | HttpClient.HttpClient> = Layer.scoped(
  LanguageModel.LanguageModel,
  Effect.flatMap(AppConfig, (config) => make(optionsFromConfig(config, "openrouter")))
)

/** `LanguageModel` for `LLM_PROVIDER=openai` (OpenAI or any compatible server), from `AppConfig`. */
export const layerOpenAi: Layer.Layer<LanguageModel.LanguageModel, never, AppConfig | HttpClient.HttpClient> = Layer.scoped(
  LanguageModel.LanguageModel,
  Effect.flatMap(AppConfig, (config) => make(optionsFromConfig(config, "openai")))
)
