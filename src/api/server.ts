/**
 * The HTTP server of `effect-agents serve`: the API's handlers on a Node server, with the OpenAPI
 * document at `/openapi.json`, a docs page at `/docs`, CORS when `API_CORS_ORIGINS` is set, and a
 * 1 MiB limit on request bodies (413 beyond it, before the body is read when its length is given).
 *
 * `make` hands back a way to stop accepting connections without ending the ones in flight, so a
 * shutdown can let SSE clients see the last events of the runs it drains.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiScalar from "@effect/platform/HttpApiScalar"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Effect, Layer, Option, Schema } from "effect"
import { createServer } from "node:http"
import { isIP } from "node:net"
import { AppConfig } from "../services/AppConfig.js"
import { Api } from "./Api.js"
import * as Auth from "./auth.js"
import * as Handlers from "./handlers.js"

/** Largest request body accepted. */
export const maxBodyBytes = 1024 * 1024

/** Where `serve` listens. */
export interface ServeOptions {
  readonly host: string
  readonly port: number
}

/** A non-loopback host was asked for without `API_TOKEN`: the API would be open to the network. */
export class TokenRequired extends Schema.TaggedError<TokenRequired>()("TokenRequired", { host: Schema.String }) {
  override get message(): string {
    return `refusing to serve on ${this.host} without API_TOKEN: set API_TOKEN (at least 16 characters) or bind 127.0.0.1`
  }
}

/** The server could not listen on `host:port` (port in use, no permission, unknown host). */
export class ListenError extends Schema.TaggedError<ListenError>()("ListenError", {
  host: Schema.String,
  port: Schema.Number,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot serve on ${this.host}:${this.port}: ${this.reason}`
  }
}

/** Whether `host` is reachable only from this machine. */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."))

const tooLarge = () =>
  HttpServerResponse.unsafeJson({ _tag: "PayloadTooLarge", message: `request bodies are limited to ${maxBodyBytes} bytes` }, {
    status: 413
  })

/** 413 for a declared length over the limit; a body that turns out longer fails to read. */
const bodyLimit = (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const length = Number(request.headers["content-length"] ?? "0")
    if (length > maxBodyBytes) return tooLarge()
    return yield* HttpIncomingMessage.withMaxBodySize(app, Option.some(maxBodyBytes))
  })

/** The API, its docs and its middleware, over the services of the context. */
const apiLayer = Effect.map(AppConfig, (config) => {
  const api = HttpApiBuilder.api(Api).pipe(Layer.provide(Handlers.layer), Layer.provide(Auth.layer))
  const cors = config.api.corsOrigins.length === 0
    ? Layer.empty
    : HttpApiBuilder.middlewareCors({ allowedOrigins: config.api.corsOrigins, allowedHeaders: ["authorization", "content-type", "idempotency-key", "last-event-id"] })
  return Layer.mergeAll(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" }), HttpApiScalar.layer({ path: "/docs" }), cors).pipe(
    Layer.provideMerge(api)
  )
}).pipe(Layer.unwrapEffect)

/**
 * Starts the server in the current scope and returns its address and `stopAccepting`, which closes
 * the listening socket (and idle keep-alive connections) while requests in flight go on.
 */
export const make = (options: ServeOptions) =>
  Effect.gen(function*() {
    const config = yield* AppConfig
    if (!isLoopback(options.host) && Option.isNone(config.api.token)) return yield* new TokenRequired({ host: options.host })
    const server = createServer()
    const layer = HttpApiBuilder.serve(bodyLimit).pipe(
      Layer.provide(apiLayer),
      Layer.provideMerge(NodeHttpServer.layer(() => server, { host: options.host, port: options.port }))
    )
    const context = yield* Layer.build(layer).pipe(
      Effect.catchTag("ServeError", (e) =>
        Effect.fail(new ListenError({ ...options, reason: e.cause instanceof Error ? e.cause.message : String(e.cause) })))
    )
    const address = yield* HttpServer.addressFormattedWith((a) => Effect.succeed(a)).pipe(Effect.provide(context))
    const stopAccepting = Effect.sync(() => {
      if (server.listening) server.close()
      server.closeIdleConnections()
    })
    return { address, stopAccepting }
  })
