/**
 * Redaction of provider errors: a copy of an `AiError` that is safe to log, serialise or show.
 *
 * The provider packages build errors that carry the request's headers, and for some status codes
 * copy them without redaction, so a plain `JSON.stringify(error)` would print
 * `Authorization: Bearer <key>`. Every adapter passes its errors through `redactAiError`, which
 * blanks credential headers and scrubs the key's text from bodies and descriptions.
 */
import * as AiError from "@effect/ai/AiError"
import { Option, Redacted } from "effect"

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
