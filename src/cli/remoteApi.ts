/**
 * The remote dashboard's client of a server's API: the typed client derived from the `HttpApi`
 * definition (`api/Api.ts`) for the workflows, starting and cancelling runs, and the SSE follower
 * (`remoteEvents.ts`) for the events, all sending `Authorization: Bearer <token>` when a token is
 * given. The token is `Redacted` and travels only in that header: errors name the server and the
 * reason, never a request.
 */
import * as HttpApiClient from "@effect/platform/HttpApiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Data, Duration, Effect, Option, type Redacted, Stream } from "effect"
import { Api } from "../api/Api.js"
import type { RunSummary } from "../services/RunHistory.js"
import * as SseClient from "../internal/sseClient.js"
import { UsageError } from "./CliError.js"
import * as RemoteEvents from "./remoteEvents.js"

/** The server did not answer, or not as an effect-agents server does. */
export class ServerUnreachable extends Data.TaggedError("ServerUnreachable")<{
  readonly server: string
  readonly reason: string
}> {
  override get message(): string {
    return `cannot reach ${this.server}: ${this.reason}`
  }
}

/** What the remote dashboard asks of the server. */
export interface RemoteApi {
  /** The base URL, without a trailing slash. */
  readonly server: string
  /** The workflows the server offers; the first request, so it also checks the server and the token. */
  readonly workflows: Effect.Effect<ReadonlyArray<{ readonly name: string; readonly description: string }>, ServerUnreachable | RemoteEvents.Unauthorized>
  /** Starts a run; its id. Failures carry the server's message (unknown workflow, bad input...). */
  readonly start: (workflow: string, input: string) => Effect.Effect<string, RemoteFailure>
  /** Cancels a run (the server records it `cancelled`). */
  readonly cancel: (id: string) => Effect.Effect<void, RemoteFailure>
  /**
   * Where to start following so the screen opens with the recent runs: just before the first event
   * of the oldest of the newest `runs` runs; `0` (the whole log) when there are none yet, which
   * also catches a run started meanwhile; `undefined` (from now) when it cannot be found.
   */
  readonly recentPosition: (runs: number) => Effect.Effect<number | undefined, RemoteFailure>
  /** The newest runs the server's history reads as interrupted (their process died). */
  readonly interrupted: (limit: number) => Effect.Effect<ReadonlyArray<RunSummary>, RemoteFailure>
  /** The event log from `after`, reconnecting as needed (`remoteEvents.ts`). */
  readonly events: (
    after: number | undefined,
    options?: Omit<RemoteEvents.FollowOptions, "client" | "server" | "after">
  ) => Stream.Stream<RemoteEvents.FollowItem, RemoteEvents.Unauthorized>
}

/** A request that failed, as a line for the log. */
export class RemoteFailure extends Data.TaggedError("RemoteFailure")<{ readonly message: string }> {}

/** `http://host:port` from what the user typed (a trailing slash or a path is fine, a scheme is needed). */
export const parseServer = (text: string): Effect.Effect<string, UsageError> => {
  const url = URL.canParse(text) ? new URL(text) : undefined
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    return Effect.fail(new UsageError({ message: `--attach needs the server's URL, like http://127.0.0.1:8080 (got ${JSON.stringify(text)})` }))
  }
  if (url.username !== "" || url.password !== "") {
    return Effect.fail(new UsageError({ message: "--attach takes the token from --token or API_TOKEN, not from the URL" }))
  }
  return Effect.succeed(`${url.origin}${url.pathname.replace(/\/+$/, "")}`)
}

const CHECK_TIMEOUT = Duration.seconds(10)
const FIRST_EVENT_TIMEOUT = Duration.seconds(5)

/** A failure of the typed client as a person reads it. */
const describe = (error: { readonly _tag: string }): string => {
  if (error._tag === "RequestError") return SseClient.describeTransport(error)
  if (error._tag === "ResponseError" && "response" in error && typeof error.response === "object" && error.response !== null && "status" in error.response) {
    return `the server answered ${String(error.response.status)}`
  }
  if (error._tag === "Unauthorized") return "the server refused the token (401)"
  const message = "message" in error && typeof error.message === "string" ? error.message : ""
  return message === "" ? error._tag : message
}

/** The client of `server`, authenticating with `token` when given. */
export const make = (server: string, token: Option.Option<Redacted.Redacted<string>>) =>
  Effect.gen(function*() {
    const base = yield* HttpClient.HttpClient
    const client = Option.match(token, {
      onNone: () => base,
      onSome: (secret) => HttpClient.mapRequest(base, HttpClientRequest.bearerToken(secret))
    })
    const api = yield* HttpApiClient.makeWith(Api, { httpClient: client, baseUrl: server })
    const failure = (error: { readonly _tag: string }) => new RemoteFailure({ message: describe(error) })

    const workflows = api.runs.workflows({}).pipe(
      Effect.timeoutFail({ duration: CHECK_TIMEOUT, onTimeout: () => new ServerUnreachable({ server, reason: `no answer within ${Duration.format(CHECK_TIMEOUT)}` }) }),
      Effect.catchAll((error): Effect.Effect<never, ServerUnreachable | RemoteEvents.Unauthorized> =>
        error._tag === "Unauthorized"
          ? Effect.fail(new RemoteEvents.Unauthorized({ server }))
          : Effect.fail(error._tag === "ServerUnreachable" ? error : new ServerUnreachable({ server, reason: describe(error) }))
      )
    )

    /** The position of a run's first event, read from the start of its own event stream. */
    const firstEvent = (id: string) =>
      SseClient.open(client, HttpClientRequest.get(`${server}/v1/runs/${encodeURIComponent(id)}/events`)).pipe(
        Stream.filterMap((item) => item._tag === "Message" && /^\d+$/.test(item.message.id) ? Option.some(Number(item.message.id)) : Option.none()),
        Stream.runHead,
        Effect.timeout(FIRST_EVENT_TIMEOUT),
        Effect.mapError(failure)
      )

    const recentPosition = (runs: number) =>
      Effect.gen(function*() {
        const page = yield* api.runs.list({ urlParams: { limit: runs } }).pipe(Effect.mapError(failure))
        const oldest = page.runs.at(-1)
        if (oldest === undefined) return 0
        const first = yield* firstEvent(oldest.id)
        return Option.isSome(first) ? first.value - 1 : undefined
      })

    return {
      server,
      workflows,
      start: (workflow, input) =>
        api.runs.start({ payload: { workflow, input }, headers: {} }).pipe(Effect.map((started) => started.id), Effect.mapError(failure)),
      cancel: (id) => api.runs.cancel({ path: { id } }).pipe(Effect.asVoid, Effect.mapError(failure)),
      recentPosition,
      interrupted: (limit) =>
        api.runs.list({ urlParams: { status: "interrupted", limit } }).pipe(Effect.map((page) => page.runs), Effect.mapError(failure)),
      events: (after, options = {}) => RemoteEvents.follow({ ...options, client, server, after })
    } satisfies RemoteApi
  })
