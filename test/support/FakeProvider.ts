/**
 * FakeProvider — a real loopback HTTP server that speaks just enough of the OpenAI / OpenRouter
 * `POST {base}/chat/completions` and Gemini `POST /v1beta/models/{model}:generateContent` APIs for
 * the provider Layers to run unchanged against it.
 *
 * Each request is answered by a programmable behaviour (`ok`, `status`, `hang`, `reset`, `garbage`,
 * `delay`, or a seeded fault mix) and recorded (path, headers, parsed body) so tests can assert what
 * the client sent. It is also the target of the 10,000-call benchmark, so the hot path does no
 * logging and connections are kept alive.
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import type { Socket } from "node:net"
import { Effect, type Scope } from "effect"
import { seededRandom } from "../../src/internal/seededRandom.js"
import { writeStream } from "./fakeStream.js"

// ---------------------------------------------------------------------------------------------
// Behaviours
// ---------------------------------------------------------------------------------------------

/** Token usage the fake reports; estimated at ~4 characters per token when not given. */
export interface FakeUsage {
  readonly promptTokens?: number
  readonly completionTokens?: number
  /** OpenRouter's `usage.cost` in USD; omitted from the answer when undefined. */
  readonly cost?: number
}

/** How the fake answers one request. */
export type Behaviour =
  | { readonly _tag: "Ok"; readonly content: string; readonly usage?: FakeUsage; readonly model?: string }
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly retryAfter?: string
    readonly body?: string
    readonly contentType?: string
  }
  | { readonly _tag: "Hang" }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "Garbage"; readonly body: string; readonly contentType: string }
  | { readonly _tag: "Delay"; readonly ms: number; readonly then: Behaviour }
  | { readonly _tag: "ToolCalls"; readonly calls: ReadonlyArray<FakeToolCall> }
  | {
    readonly _tag: "Stream"
    readonly content: string
    readonly pieceChars?: number
    readonly gapMs?: number
    readonly failAfter?: number
    readonly endGapMs?: number
  }

/** A tool call the fake's model makes: `tool_calls` in a chat completion, a `functionCall` part for Gemini. */
export interface FakeToolCall {
  readonly id: string
  readonly name: string
  readonly args: Readonly<Record<string, unknown>>
}

/** A 200 answer whose assistant text is `content` (JSON text for structured output). */
export const ok = (content: string, options: { readonly usage?: FakeUsage; readonly model?: string } = {}): Behaviour => ({
  _tag: "Ok",
  content,
  ...options
})

/**
 * An error status with a provider-shaped JSON error body. `retryAfter` becomes the `Retry-After`
 * header (delay-seconds such as "2", or an HTTP date); `body`/`contentType` replace the default body.
 */
export const status = (
  code: number,
  options: { readonly retryAfter?: string; readonly body?: string; readonly contentType?: string } = {}
): Behaviour => ({ _tag: "Status", status: code, ...options })

/** The status answers every path must turn into the same errors: 429 with Retry-After, 503, 401, a 400 with a JSON body. */
export const statusErrors: ReadonlyArray<Behaviour> = [
  status(429, { retryAfter: "7" }),
  status(503),
  status(401),
  status(400, { body: JSON.stringify({ error: { message: "context too long" } }), contentType: "application/json" })
]

/** Never answers; the request stays open until the client gives up or the server closes. */
export const hang: Behaviour = { _tag: "Hang" }

/** Reads the request, then destroys the socket without answering (a connection reset). */
export const reset: Behaviour = { _tag: "Reset" }

/** A 200 whose body is not JSON — by default an HTML page, as a misbehaving proxy would send. */
export const garbage = (
  body = "<html><body>502 upstream hiccup</body></html>",
  contentType = "text/html; charset=utf-8"
): Behaviour => ({ _tag: "Garbage", body, contentType })

/** A 200 in which the model calls tools instead of answering (all of them in one response). */
export const toolCalls = (...calls: ReadonlyArray<FakeToolCall>): Behaviour => ({ _tag: "ToolCalls", calls })

/**
 * A streamed answer (what `ok` also sends to a request with `stream: true`), in pieces of
 * `pieceChars` characters `gapMs` apart; with `failAfter` the connection drops after that many
 * pieces (0: before the first token); `endGapMs` parts the last event from the response's end.
 */
export const streamed = (
  content: string,
  options: { readonly pieceChars?: number; readonly gapMs?: number; readonly failAfter?: number; readonly endGapMs?: number } = {}
): Behaviour => ({ _tag: "Stream", content, ...options })

/** Waits `ms` (a real timer) before answering with `then`. */
export const delay = (ms: number, then: Behaviour): Behaviour => ({ _tag: "Delay", ms, then })

/** One request as the fake saw it; header names are lower-case. */
export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  /** The parsed JSON body, or the raw text when it was not JSON. */
  readonly body: unknown
  /** `body.model` for chat completions, the path's model for Gemini. */
  readonly model: string | undefined
  readonly api: "chat" | "gemini" | "unknown"
}

/** Chooses the behaviour of request number `index` (0-based, counted since the server started). */
export type Responder = (request: RecordedRequest, index: number) => Behaviour

/** A seeded mix of faults; whatever is left of the probability mass is `ok(content)`. */
export interface FaultMix {
  readonly seed?: number
  readonly rate429?: number
  readonly rate500?: number
  readonly rate503?: number
  readonly rateHang?: number
  readonly rateReset?: number
  readonly rateGarbage?: number
  /** `Retry-After` sent with the 429s; "1" when omitted. */
  readonly retryAfter?: string
  /** The text of successful answers; defaults to a short fixed sentence. */
  readonly content?: string | ((request: RecordedRequest) => string)
}


/** A responder drawing each answer from `mix` with a seeded PRNG. */
export const faults = (mix: FaultMix): Responder => {
  const random = seededRandom(mix.seed ?? 1)
  const retryAfter = mix.retryAfter ?? "1"
  const table: ReadonlyArray<readonly [number, Behaviour]> = [
    [mix.rate429 ?? 0, status(429, { retryAfter })],
    [mix.rate500 ?? 0, status(500)],
    [mix.rate503 ?? 0, status(503)],
    [mix.rateHang ?? 0, hang],
    [mix.rateReset ?? 0, reset],
    [mix.rateGarbage ?? 0, garbage()]
  ]
  return (request) => {
    let r = random()
    for (const [rate, behaviour] of table) {
      if (r < rate) return behaviour
      r -= rate
    }
    const content = mix.content === undefined
      ? "The fake provider answered."
      : typeof mix.content === "string" ? mix.content : mix.content(request)
    return ok(content)
  }
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/** What the fake does: a fixed behaviour, a queue (then `fallback`), or a function of the request. */
export type Script = Behaviour | ReadonlyArray<Behaviour> | Responder

export interface FakeProviderOptions {
  /** Initial script; `ok("The fake provider answered.")` when omitted. */
  readonly script?: Script
  /** Used once a queue is exhausted; defaults to `ok("The fake provider answered.")`. */
  readonly fallback?: Behaviour
  /** Record requests (default true). Benchmarks turn it off to measure the client alone. */
  readonly record?: boolean
}

/** A running fake provider. */
export interface FakeProvider {
  /** `http://127.0.0.1:PORT` — the Gemini base URL, and the root of the chat endpoint. */
  readonly url: string
  /** `url + "/v1"`, an OpenAI-style base URL (any path ending in `/chat/completions` is served). */
  readonly openaiUrl: string
  /** Requests seen so far, in arrival order. */
  readonly requests: ReadonlyArray<RecordedRequest>
  /** Number of requests answered or pending since start (counted even when not recording). */
  readonly count: () => number
  /** Replaces the script (and forgets any queued behaviours); an array becomes the new queue. */
  readonly setScript: (script: Script) => void
  /** Appends behaviours to the queue; they are used before the script. */
  readonly enqueue: (...behaviours: ReadonlyArray<Behaviour>) => void
  /** Forgets the recorded requests. */
  readonly clearRequests: () => void
  /** Client connections open now (a client that gives up on a hanging request closes its one). */
  readonly openConnections: () => number
  /** Stops listening and destroys every open connection (hanging requests included). */
  readonly close: () => Promise<void>
}

const DEFAULT_CONTENT = "The fake provider answered."
const GEMINI_PATH = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/

const estimateTokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4))

const promptText = (body: unknown): string => {
  if (typeof body !== "object" || body === null) return ""
  const b = body as { messages?: ReadonlyArray<{ content?: unknown }>; contents?: ReadonlyArray<{ parts?: ReadonlyArray<{ text?: unknown }> }> }
  let out = ""
  for (const m of b.messages ?? []) out += typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? "")
  for (const c of b.contents ?? []) for (const p of c.parts ?? []) if (typeof p.text === "string") out += p.text
  return out
}

const isStreamed = (body: unknown): boolean =>
  typeof body === "object" && body !== null && (body as { stream?: unknown }).stream === true

const statusText: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE"
}

/** The body of a response calling `calls`, in the request's API. */
const toolCallsPayload = (request: RecordedRequest, calls: ReadonlyArray<FakeToolCall>, id: number): unknown => {
  const usage = { prompt_tokens: estimateTokens(promptText(request.body)), completion_tokens: 10 * calls.length }
  if (request.api === "gemini") {
    return {
      candidates: [{
        index: 0,
        finishReason: "STOP",
        content: { role: "model", parts: calls.map((c) => ({ functionCall: { name: c.name, args: c.args } })) }
      }],
      usageMetadata: {
        promptTokenCount: usage.prompt_tokens,
        candidatesTokenCount: usage.completion_tokens,
        totalTokenCount: usage.prompt_tokens + usage.completion_tokens
      },
      modelVersion: request.model ?? "fake-model",
      responseId: `fake-${id}`
    }
  }
  return {
    id: `gen-${id}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: request.model ?? "fake-model",
    provider: "fake",
    choices: [{
      index: 0,
      finish_reason: "tool_calls",
      message: {
        role: "assistant",
        content: null,
        tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: JSON.stringify(c.args) } }))
      }
    }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens }
  }
}

/**
 * Starts a fake provider on 127.0.0.1 (an ephemeral port). Prefer `make`, which closes it with the
 * test's scope.
 */
export const start = (options: FakeProviderOptions = {}): Promise<FakeProvider> => {
  const record = options.record ?? true
  const fallback = options.fallback ?? ok(DEFAULT_CONTENT)
  const requests: Array<RecordedRequest> = []
  const queue: Array<Behaviour> = []
  let script: Behaviour | Responder = fallback
  const install = (next: Script) => {
    queue.length = 0
    if (Array.isArray(next)) {
      queue.push(...(next as ReadonlyArray<Behaviour>))
      script = fallback
    } else {
      script = next as Behaviour | Responder
    }
  }
  install(options.script ?? fallback)
  let counter = 0
  let nextId = 0
  const sockets = new Set<Socket>()

  const choose = (request: RecordedRequest, index: number): Behaviour => {
    const queued = queue.shift()
    if (queued !== undefined) return queued
    return typeof script === "function" ? script(request, index) : script
  }

  const send = (res: Http.ServerResponse, code: number, contentType: string, body: string, extra?: Record<string, string>) => {
    res.writeHead(code, {
      "content-type": contentType,
      "content-length": Buffer.byteLength(body),
      ...extra
    })
    res.end(body)
  }

  const answer = (req: Http.IncomingMessage, res: Http.ServerResponse, request: RecordedRequest, behaviour: Behaviour): void => {
    switch (behaviour._tag) {
      case "Delay": {
        setTimeout(() => answer(req, res, request, behaviour.then), behaviour.ms)
        return
      }
      case "Hang":
        return
      case "Reset": {
        req.socket.destroy()
        return
      }
      case "Garbage": {
        send(res, 200, behaviour.contentType, behaviour.body)
        return
      }
      case "Status": {
        const message = `fake provider error ${behaviour.status}`
        const body = behaviour.body ?? JSON.stringify(
          request.api === "gemini"
            ? { error: { code: behaviour.status, message, status: statusText[behaviour.status] ?? "UNKNOWN" } }
            : { error: { code: behaviour.status, message, type: "fake_error" } }
        )
        send(
          res,
          behaviour.status,
          behaviour.contentType ?? "application/json",
          body,
          behaviour.retryAfter === undefined ? undefined : { "retry-after": behaviour.retryAfter }
        )
        return
      }
      case "ToolCalls": {
        send(res, 200, "application/json", JSON.stringify(toolCallsPayload(request, behaviour.calls, ++nextId)))
        return
      }
      case "Stream": {
        const { _tag, ...plan } = behaviour
        writeStream(req, res, `gen-${++nextId}`, {
          ...plan,
          promptTokens: estimateTokens(promptText(request.body)),
          completionTokens: estimateTokens(behaviour.content)
        }, request.api === "gemini" ? request.model ?? "fake-model" : undefined)
        return
      }
      case "Ok": {
        if (request.api === "chat" ? isStreamed(request.body) : request.path.endsWith(":streamGenerateContent")) {
          return answer(req, res, request, streamed(behaviour.content))
        }
        const id = ++nextId
        const model = behaviour.model ?? request.model ?? "fake-model"
        const promptTokens = behaviour.usage?.promptTokens ?? estimateTokens(promptText(request.body))
        const completionTokens = behaviour.usage?.completionTokens ?? estimateTokens(behaviour.content)
        const payload = request.api === "gemini"
          ? {
            candidates: [{ index: 0, finishReason: "STOP", content: { role: "model", parts: [{ text: behaviour.content }] } }],
            usageMetadata: { promptTokenCount: promptTokens, candidatesTokenCount: completionTokens, totalTokenCount: promptTokens + completionTokens },
            modelVersion: model,
            responseId: `fake-${id}`
          }
          : {
            id: `gen-${id}`,
            object: "chat.completion",
            created: Math.floor(Date.now() / 1000),
            model,
            provider: "fake",
            choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: behaviour.content } }],
            usage: {
              prompt_tokens: promptTokens,
              completion_tokens: completionTokens,
              total_tokens: promptTokens + completionTokens,
              ...(behaviour.usage?.cost === undefined ? {} : { cost: behaviour.usage.cost })
            }
          }
        send(res, 200, "application/json", JSON.stringify(payload))
        return
      }
    }
  }

  const server = Http.createServer({ keepAlive: true }, (req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const index = counter++
      const text = Buffer.concat(chunks).toString("utf8")
      let body: unknown = text
      try {
        if (text.length > 0) body = JSON.parse(text)
      } catch {
        // Kept as text: a test may assert on a body that is not JSON.
      }
      const path = (req.url ?? "/").split("?")[0] ?? "/"
      const gemini = GEMINI_PATH.exec(path)
      const api = gemini !== null ? "gemini" : path.endsWith("/chat/completions") ? "chat" : "unknown"
      const bodyModel = typeof body === "object" && body !== null && typeof (body as { model?: unknown }).model === "string"
        ? (body as { model: string }).model
        : undefined
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v
      }
      const request: RecordedRequest = {
        method: req.method ?? "GET",
        path,
        headers,
        body,
        model: gemini?.[1] ?? bodyModel,
        api
      }
      if (record) requests.push(request)
      if (api === "unknown" || req.method !== "POST") {
        send(res, 404, "application/json", JSON.stringify({ error: { code: 404, message: `no route ${req.method} ${path}` } }))
        return
      }
      answer(req, res, request, choose(request, index))
    })
  })
  server.keepAliveTimeout = 60_000
  server.headersTimeout = 65_000
  // Hanging requests must not be cut by the server's own timeouts; the client decides.
  server.requestTimeout = 0
  server.on("connection", (socket) => {
    socket.setNoDelay(true)
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    // A deep accept queue: a benchmark opens ~1,000 connections at once, and an overflowing
    // default backlog (511) shows up as connection resets that are the server's fault, not the client's.
    server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, () => {
      const { port } = server.address() as AddressInfo
      const url = `http://127.0.0.1:${port}`
      resolve({
        url,
        openaiUrl: `${url}/v1`,
        requests,
        count: () => counter,
        setScript: install,
        enqueue: (...behaviours) => {
          queue.push(...behaviours)
        },
        clearRequests: () => {
          requests.length = 0
        },
        openConnections: () => sockets.size,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })
}

/** A fake provider that lives as long as the surrounding scope (closed by its finalizer). */
export const make = (options: FakeProviderOptions = {}): Effect.Effect<FakeProvider, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() => start(options)),
    (fake) => Effect.promise(() => fake.close())
  )
