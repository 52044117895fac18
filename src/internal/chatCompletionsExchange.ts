/**
 * The wire half of the direct chat-completions path: one POST on a keep-alive undici pool, its
 * answer read into `Response` parts, every failure the same `AiError` the package would give —
 * status errors as `HttpResponseError` (headers, so Retry-After, and body), transport errors as
 * `HttpRequestError`, an unreadable 2xx as a `Decode` error that keeps the raw text.
 *
 * Errors carry the endpoint's headers, credentials included: the adapter redacts them.
 */
import * as AiError from "@effect/ai/AiError"
import type * as Response from "@effect/ai/Response"
import { Effect, Either, Option, type Scope } from "effect"
import { Agent, type Dispatcher } from "undici"
import type { ChatRequest } from "./chatCompletionsRequest.js"
import { readCompletion } from "./chatCompletionsResponse.js"

/** One endpoint and the headers sent with every request. */
export interface Endpoint {
  /** `<apiUrl>/chat/completions`. */
  readonly url: string
  /** Sent with every request, credentials included (never logged: errors are redacted). */
  readonly headers: Readonly<Record<string, string>>
}

/** How long an exchange may take, and what it fails with after that. */
export interface TimeLimit {
  readonly millis: number
  readonly onTimeout: () => AiError.AiError
}

/** Sends chat-completion requests to one endpoint. */
export interface Exchange {
  /**
   * One request and its parts; interrupting the fiber aborts the request, and so does `limit`
   * running out (on the system timer, as undici keeps its own timeouts).
   */
  readonly send: (body: ChatRequest, limit: TimeLimit | undefined) => Effect.Effect<Array<Response.AnyPart>, AiError.AiError>
  /** The pool and target, for the streamed exchanges of `chatCompletionsSse`. */
  readonly connection: Connection
}

/** Where an endpoint's requests go: its pool, and its URL as undici takes it (or why it did not parse). */
export interface Connection {
  readonly pool: Agent
  readonly target: Either.Either<Target, unknown>
  readonly endpoint: Endpoint
}

// The package's client names, so errors read the same on both paths.
const MODULE = "OpenRouterClient"
const METHOD = "createChatCompletion"

export type RawHeaders = Record<string, string | Array<string> | undefined>

const headerRecord = (headers: RawHeaders): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value
  }
  return out
}

const requestDetails = (endpoint: Endpoint) => ({
  method: "POST" as const,
  url: endpoint.url,
  urlParams: [],
  hash: Option.none(),
  headers: { ...endpoint.headers }
})

/** A transport failure, worded like the platform's (`Transport`, the socket's own message kept). */
export const transportError = (endpoint: Endpoint, cause: unknown): AiError.HttpRequestError =>
  new AiError.HttpRequestError({
    module: MODULE,
    method: METHOD,
    reason: "Transport",
    request: requestDetails(endpoint),
    description: cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause),
    cause
  }, { disableValidation: true })

/** A status error, or (with `decodeProblem`) a 2xx body this path cannot read. */
export const responseError = (
  endpoint: Endpoint,
  status: number,
  headers: RawHeaders,
  body: string,
  decodeProblem?: string
): AiError.HttpResponseError =>
  new AiError.HttpResponseError({
    module: MODULE,
    method: METHOD,
    reason: decodeProblem === undefined ? "StatusCode" : "Decode",
    request: requestDetails(endpoint),
    response: { status, headers: headerRecord(headers) },
    body,
    ...(decodeProblem === undefined ? {} : { description: decodeProblem })
  }, { disableValidation: true })

/** What an answer settles to: its parts, or the status/decode error that keeps the body. */
const answerOf = (endpoint: Endpoint, status: number, headers: RawHeaders, text: string) => {
  if (status < 200 || status >= 300) return Effect.fail(responseError(endpoint, status, headers, text))
  const parts = readCompletion(text)
  return Either.isRight(parts)
    ? Effect.succeed(parts.right)
    : Effect.fail(responseError(endpoint, status, headers, text, parts.left))
}

export interface Target {
  readonly origin: string
  readonly path: string
}

/** What an aborted exchange reports to undici (never seen by callers: they are settled first). */
export const abortReason = (): Error => new Error("the call was interrupted")

/** The longest delay a JS timer keeps; a longer limit is no limit. */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/**
 * One exchange on undici's `dispatch` handler API rather than `request`: the body arrives as
 * buffers, with no `Readable`, `AbortSignal` or body mixin per call (measured ~1.6× less client CPU
 * per exchange at concurrency 1,000, same server, same JSON).
 */
const send = (
  pool: Agent,
  target: Either.Either<Target, unknown>,
  endpoint: Endpoint,
  body: ChatRequest,
  limit: TimeLimit | undefined
): Effect.Effect<Array<Response.AnyPart>, AiError.AiError> =>
  Effect.async<Array<Response.AnyPart>, AiError.AiError>((resume) => {
    let settled = false
    // undici hands the controller over when the request starts; an abort before that is kept.
    let controller: Dispatcher.DispatchController | undefined
    let abortRequested = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const abort = () => {
      abortRequested = true
      if (controller !== undefined && !controller.aborted) controller.abort(abortReason())
    }
    const settle = (effect: Effect.Effect<Array<Response.AnyPart>, AiError.AiError>) => {
      if (settled) return
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      resume(effect)
    }
    if (limit !== undefined && limit.millis <= MAX_TIMER_MILLIS) {
      timer = setTimeout(() => {
        settle(Effect.fail(limit.onTimeout()))
        abort()
      }, limit.millis)
    }
    let status = 0
    // Kept as undici gives them; copied into a plain record only for an error (a 2xx needs none).
    let rawHeaders: RawHeaders = {}
    let chunks: Array<Buffer> = []
    try {
      if (Either.isLeft(target)) throw target.left
      const { origin, path } = target.right
      pool.dispatch({ origin, path, method: "POST", headers: endpoint.headers, body: JSON.stringify(body) }, {
        onRequestStart: (started) => {
          controller = started
          if (abortRequested) started.abort(abortReason())
        },
        onResponseStart: (_, statusCode, responseHeaders) => {
          status = statusCode
          rawHeaders = responseHeaders
          chunks = []
        },
        onResponseData: (_, chunk) => {
          chunks.push(chunk)
        },
        onResponseEnd: () => {
          const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")
          settle(answerOf(endpoint, status, rawHeaders, text))
        },
        onResponseError: (_, error) => settle(Effect.fail(transportError(endpoint, error)))
      })
    } catch (error) {
      settle(Effect.fail(transportError(endpoint, error)))
    }
    return Effect.sync(() => {
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      abort()
    })
  })

/**
 * An `Exchange` for `endpoint` on its own keep-alive pool, closed with the scope. An endpoint URL
 * that does not parse fails each call as a transport error, as the platform's client would.
 */
export const make = (endpoint: Endpoint): Effect.Effect<Exchange, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 })),
      (pool) => Effect.promise(() => pool.close())
    ),
    (pool) => {
      const target = Either.try(() => {
        const url = new URL(endpoint.url)
        return { origin: url.origin, path: `${url.pathname}${url.search}` }
      })
      return { send: (body, limit) => send(pool, target, endpoint, body, limit), connection: { pool, target, endpoint } }
    }
  )
