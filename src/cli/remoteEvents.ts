/**
 * A server's event log followed over SSE (`GET /v1/events`), for the remote dashboard: one stream
 * of the workflow events in log order, each exactly once, across dropped connections and server
 * restarts, with the connection's state interleaved so a screen can say "reconnecting…".
 *
 * Every message's `id` is its position in the server's log. A lost connection (an error, the
 * server closing the stream, a silence longer than the idle timeout) is reopened with
 * `Last-Event-ID` set to the last position received, after a backoff that doubles from the
 * server's `retry` hint (else `initialDelay`) up to `maxDelay`, with jitter so a restarted server
 * is not met by every client at the same instant. Positions already received are dropped should
 * a server send them again. A 401 is not retried: the token is wrong, and waiting will not fix it.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Data, Duration, Effect, Either, Random, Schema, Stream } from "effect"
import * as SseClient from "../internal/sseClient.js"
import type { SseMessage } from "../internal/sseParser.js"
import { WorkflowEvent } from "../services/WorkflowEvents.js"

/** Where the event stream stands. */
export type ConnectionState = "connecting" | "connected" | "reconnecting"

/** The connection as a screen shows it. */
export interface ConnectionStatus {
  readonly state: ConnectionState
  /** Attempts failed since the last good connection. */
  readonly attempt: number
  /** Why the last connection ended (while reconnecting). */
  readonly reason: string | undefined
  /** Time until the next attempt (while reconnecting). */
  readonly retryInMs: number | undefined
}

/** What following yields: events with their position, connection changes, and notes for the log. */
export type FollowItem =
  | { readonly _tag: "Event"; readonly seq: number; readonly event: WorkflowEvent }
  | { readonly _tag: "Status"; readonly status: ConnectionStatus }
  | { readonly _tag: "Notice"; readonly message: string }

/** The server refused the token (or wants one): HTTP 401. */
export class Unauthorized extends Data.TaggedError("Unauthorized")<{ readonly server: string }> {
  override get message(): string {
    return `${this.server} refused the request (401): pass the server's API_TOKEN with --token or set API_TOKEN`
  }
}

/** Options of `follow`. */
export interface FollowOptions {
  /** A client that authenticates its requests. */
  readonly client: HttpClient.HttpClient
  /** The server's base URL (`http://host:port`). */
  readonly server: string
  /** Resume after this position; `undefined` starts from now. */
  readonly after: number | undefined
  /** First reconnection delay when the server gives no `retry` (default 500 ms). */
  readonly initialDelay?: Duration.DurationInput
  /** Longest reconnection delay (default 5 s). */
  readonly maxDelay?: Duration.DurationInput
  /** Silence after which a connection counts as dead (default 45 s; the server beats every 15 s). */
  readonly idleTimeout?: Duration.DurationInput
}

const decodeEvent = Schema.decodeUnknownEither(Schema.parseJson(WorkflowEvent))
const decodeError = Schema.decodeUnknownEither(Schema.parseJson(Schema.Struct({ message: Schema.String })))
const POSITION = /^\d{1,15}$/

const status = (state: ConnectionState, attempt = 0, reason?: string, retryInMs?: number): FollowItem => ({
  _tag: "Status",
  status: { state, attempt, reason, retryInMs }
})

/** The event log from `after` on, forever; fails only with `Unauthorized`. */
export const follow = (options: FollowOptions): Stream.Stream<FollowItem, Unauthorized> =>
  Stream.suspend(() => {
    const initialMs = Duration.toMillis(options.initialDelay ?? "500 millis")
    const maxMs = Duration.toMillis(options.maxDelay ?? "5 seconds")
    const url = `${options.server}/v1/events`
    let last = options.after
    let attempt = 0
    let hintMs: number | undefined
    let reason = "the server closed the stream"

    const onMessage = (message: SseMessage): ReadonlyArray<FollowItem> => {
      if (message.event === "error") {
        const said = decodeError(message.data)
        reason = Either.isRight(said) ? said.right.message : message.data
        return [{ _tag: "Notice", message: `the server ended the event stream: ${reason}` }]
      }
      const seq = POSITION.test(message.id) ? Number(message.id) : undefined
      if (seq !== undefined && last !== undefined && seq <= last) return []
      if (seq !== undefined) last = seq
      const event = decodeEvent(message.data)
      if (Either.isLeft(event)) return [{ _tag: "Notice", message: `skipped event ${message.id} (${message.event}): not one this dashboard knows` }]
      return [{ _tag: "Event", seq: seq ?? -1, event: event.right }]
    }

    const connection = Stream.suspend(() => {
      reason = "the server closed the stream"
      return SseClient.open(options.client, HttpClientRequest.get(url), {
        lastEventId: last === undefined ? undefined : String(last),
        ...(options.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout })
      })
    }).pipe(
      Stream.mapConcat((item): ReadonlyArray<FollowItem> => {
        switch (item._tag) {
          case "Open":
            attempt = 0
            return [status("connected")]
          case "Retry":
            hintMs = item.ms
            return []
          case "Message":
            return onMessage(item.message)
        }
      }),
      Stream.catchAll((error) => {
        if (error._tag === "SseStatusError" && error.status === 401) return Stream.fail(new Unauthorized({ server: options.server }))
        reason = error.message
        return Stream.empty
      })
    )

    // After every connection, however it ended: say so, wait, and go again from `last`.
    const pause = Stream.unwrap(Effect.gen(function*() {
      attempt++
      const base = Math.min(maxMs, (hintMs ?? initialMs) * 2 ** Math.min(attempt - 1, 16))
      const delay = Math.round(base * (0.8 + 0.4 * (yield* Random.next)))
      return Stream.concat(
        Stream.succeed(status("reconnecting", attempt, reason, delay)),
        Stream.drain(Stream.fromEffect(Effect.sleep(Duration.millis(delay))))
      )
    }))

    return Stream.concat(Stream.succeed(status("connecting")), Stream.forever(Stream.concat(connection, pause)))
  })
