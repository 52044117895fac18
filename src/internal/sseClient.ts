/**
 * One Server-Sent Events connection over `@effect/platform`'s `HttpClient`: the request (with
 * `Last-Event-ID` when resuming), the status check, and the body parsed as it streams in
 * (`sseParser.ts`). Reconnecting is the caller's business: the stream ends when the server closes
 * it and fails when the connection breaks, goes quiet for longer than `idleTimeout` (servers send
 * comment lines as heartbeats, so silence means a dead peer), or is refused.
 *
 * The request is aborted when the stream's consumer stops, so an interrupted follower leaves no
 * socket behind.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Data, Duration, Effect, Stream } from "effect"
import * as SseParser from "./sseParser.js"

/** The server answered something other than 200 (a 401 among them). */
export class SseStatusError extends Data.TaggedError("SseStatusError")<{ readonly status: number }> {
  override get message(): string {
    return `the server answered ${this.status}`
  }
}

/** The connection could not be made, broke, or went silent. */
export class SseConnectionError extends Data.TaggedError("SseConnectionError")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

export type SseError = SseStatusError | SseConnectionError

/** What a connection yields: `Open` once the server has accepted it, then messages and `retry` hints. */
export type SseItem =
  | { readonly _tag: "Open" }
  | { readonly _tag: "Message"; readonly message: SseParser.SseMessage }
  | { readonly _tag: "Retry"; readonly ms: number }

/** Options of `open`. */
export interface OpenOptions {
  /** Sent as `Last-Event-ID`: the server resumes after it. */
  readonly lastEventId?: string | undefined
  /** Longest silence (no byte, not even a heartbeat) before the connection counts as dead. */
  readonly idleTimeout?: Duration.DurationInput
}

/**
 * The innermost cause's code or message: `ECONNREFUSED` says more than "Transport error". Never
 * the request itself, whose headers may hold a token.
 */
export const describeTransport = (error: HttpClientError.HttpClientError | unknown): string => {
  const reasons: Array<string> = []
  let current: unknown = error
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const code = "code" in current && typeof current.code === "string" ? current.code : undefined
    const message = "message" in current && typeof current.message === "string" ? current.message : undefined
    if (code !== undefined) return message !== undefined && !message.includes(code) ? `${code} (${message})` : code
    if (message !== undefined && message !== "") reasons.push(message)
    current = "cause" in current ? current.cause : undefined
  }
  return reasons.at(-1) ?? "the connection failed"
}

/** Opens `request` as an event stream. */
export const open = (
  client: HttpClient.HttpClient,
  request: HttpClientRequest.HttpClientRequest,
  options: OpenOptions = {}
): Stream.Stream<SseItem, SseError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const withHeaders = request.pipe(
      HttpClientRequest.setHeader("accept", "text/event-stream"),
      HttpClientRequest.setHeader("cache-control", "no-cache"),
      options.lastEventId === undefined || options.lastEventId === ""
        ? (r) => r
        : HttpClientRequest.setHeader("last-event-id", options.lastEventId)
    )
    const response = yield* HttpClient.withScope(client).execute(withHeaders).pipe(
      Effect.mapError((e) => new SseConnectionError({ reason: describeTransport(e) }))
    )
    if (response.status !== 200) return yield* new SseStatusError({ status: response.status })
    const parser = SseParser.make()
    const decoder = new TextDecoder("utf-8")
    const items = response.stream.pipe(
      Stream.mapError((e) => new SseConnectionError({ reason: describeTransport(e) })),
      Stream.timeoutFail(
        () => new SseConnectionError({ reason: `no data for ${Duration.format(options.idleTimeout ?? "45 seconds")}` }),
        options.idleTimeout ?? "45 seconds"
      ),
      Stream.mapConcat((bytes): ReadonlyArray<SseItem> => {
        const chunk = parser.feed(decoder.decode(bytes, { stream: true }))
        const messages = chunk.messages.map((message): SseItem => ({ _tag: "Message", message }))
        return chunk.retryMs === undefined ? messages : [{ _tag: "Retry", ms: chunk.retryMs }, ...messages]
      })
    )
    return Stream.concat(Stream.succeed<SseItem>({ _tag: "Open" }), items)
  }))
