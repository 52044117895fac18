/**
 * The wire half of the direct chat-completions stream: one POST with `stream: true` on the
 * endpoint's keep-alive pool, its server-sent events parsed as they arrive (`sseParser`) and read
 * into stream parts (`chatCompletionsStreamParts`) up to `data: [DONE]`. The parts are pushed
 * straight from undici's callbacks into the stream's mailbox: no fiber, promise or `Readable` per
 * piece.
 *
 * Failures are the `AiError`s the package's stream gives, as the resilient layer reads them: a
 * status as `HttpResponseError` (headers, so Retry-After, and body), no answer as `HttpRequestError`
 * (`Transport`), a connection broken mid-answer or a chunk it cannot read as a `Decode` error (the
 * chunk's raw text kept). Errors carry the endpoint's headers, credentials included: the adapter
 * redacts them. Stopping the stream early aborts the request.
 */
import type * as AiError from "@effect/ai/AiError"
import { Effect, Either, type StreamEmit, Stream } from "effect"
import type { Dispatcher } from "undici"
import { abortReason, type Connection, type RawHeaders, responseError, transportError } from "./chatCompletionsExchange.js"
import type { ChatRequest } from "./chatCompletionsRequest.js"
import { type Part, reader } from "./chatCompletionsStreamParts.js"
import * as SseParser from "./sseParser.js"

type Emit = StreamEmit.EmitOpsPush<AiError.AiError, Part>

/** What the package adds to a streamed request's body. */
const STREAMED = { stream: true, stream_options: { include_usage: true } } as const

/** Starts one exchange feeding `emit`; returns its abort. */
const start = (connection: Connection, body: ChatRequest, emit: Emit, now: () => number): () => void => {
  const { endpoint, pool, target } = connection
  let finished = false
  // The exchange is over on the wire (ended or broken), or its answer is complete (`[DONE]`, the
  // response's end following): nothing to abort, and the connection stays in the pool.
  let closed = false
  let controller: Dispatcher.DispatchController | undefined
  const end = (error?: AiError.AiError) => {
    if (finished) return
    finished = true
    if (error === undefined) emit.end()
    else emit.fail(error)
  }
  let status = 0
  let headers: RawHeaders = {}
  // A status error's body, kept whole; a 2xx body is read piece by piece.
  let errorBody: Array<Buffer> = []
  const decoder = new TextDecoder()
  const parser = SseParser.make()
  const read = reader(now)
  const onEvents = (text: string) => {
    for (const message of parser.feed(text).messages) {
      if (finished) return
      if (message.data === "[DONE]") {
        closed = true
        return end()
      }
      const parts = read(message.data)
      if ("problem" in parts) {
        end(responseError(endpoint, status, headers, message.data, parts.problem))
        controller?.abort(abortReason())
        return
      }
      if (parts.length > 0) emit.array(parts)
    }
  }
  try {
    if (Either.isLeft(target)) throw target.left
    const { origin, path } = target.right
    pool.dispatch({ origin, path, method: "POST", headers: endpoint.headers, body: JSON.stringify({ ...body, ...STREAMED }) }, {
      onRequestStart: (started) => {
        controller = started
        if (finished) started.abort(abortReason())
      },
      onResponseStart: (_, statusCode, responseHeaders) => {
        status = statusCode
        headers = responseHeaders
        errorBody = []
      },
      onResponseData: (_, chunk) => {
        if (status >= 200 && status < 300) onEvents(decoder.decode(chunk, { stream: true }))
        else errorBody.push(chunk)
      },
      onResponseEnd: () => {
        closed = true
        if (status >= 200 && status < 300) {
          onEvents(decoder.decode())
          return end()
        }
        end(responseError(endpoint, status, headers, Buffer.concat(errorBody).toString("utf8")))
      },
      onResponseError: (_, error) => {
        closed = true
        // Before an answer the provider was not reached; after a 2xx the answer broke off, which
        // the package reports as a body it could not read.
        const broken = status >= 200 && status < 300
        end(broken
          ? responseError(endpoint, status, headers, "", `the stream broke off: ${error.message}`)
          : transportError(endpoint, error))
      }
    })
  } catch (error) {
    closed = true
    end(transportError(endpoint, error))
  }
  return () => {
    // A reader that stops early: its request is aborted, its connection closed.
    finished = true
    if (!closed && controller !== undefined && !controller.aborted) controller.abort(abortReason())
  }
}

/** The parts of a streamed answer to `body`, read off the wire as they arrive. */
export const stream = (connection: Connection, body: ChatRequest): Stream.Stream<Part, AiError.AiError> =>
  Stream.asyncPush<Part, AiError.AiError>((emit) =>
    Effect.clockWith((clock) =>
      Effect.acquireRelease(
        Effect.sync(() => start(connection, body, emit, () => clock.unsafeCurrentTimeMillis())),
        (abort) => Effect.sync(abort)
      )
    ), { bufferSize: "unbounded" })
