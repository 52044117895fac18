/**
 * The fake provider's streamed answers as server-sent events, the way OpenAI-compatible servers
 * answer `stream: true` (one `chat.completion.chunk` per piece of text, then one with the finish
 * reason and the usage, then `data: [DONE]`) and Gemini answers `:streamGenerateContent?alt=sse`.
 *
 * A stream can break: after `failAfter` pieces the socket is destroyed mid-answer (0: after the
 * headers, before the first token), as a dropped connection or a crashed upstream would leave it.
 */
import type * as Http from "node:http"

/** How one streamed answer goes. */
export interface StreamPlan {
  readonly content: string
  /** Characters per piece (default 8). */
  readonly pieceChars?: number
  /** Real milliseconds between pieces (default 0: all at once). */
  readonly gapMs?: number
  /** Pieces sent before the connection is destroyed; undefined: the stream completes. */
  readonly failAfter?: number
  /** Real milliseconds between the last event and the response's end (default 0: together). */
  readonly endGapMs?: number
  readonly promptTokens: number
  readonly completionTokens: number
}

/** The answer's pieces. */
export const piecesOf = (content: string, size: number): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let i = 0; i < content.length; i += size) out.push(content.slice(i, i + size))
  return out
}

/** The events of one dialect: a piece of text, and the end (finish reason and usage). */
interface Dialect {
  readonly piece: (text: string) => string
  readonly end: () => string
}

const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`

/** OpenAI's `chat.completion.chunk`s, closed by `[DONE]`. */
const chat = (id: string, plan: StreamPlan): Dialect => {
  const created = Math.floor(Date.now() / 1000)
  const event = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    data({ id, object: "chat.completion.chunk", created, choices: [{ index: 0, ...choice }], ...extra })
  return {
    piece: (text) => event({ delta: { role: "assistant", content: text } }),
    end: () =>
      event({ delta: {}, finish_reason: "stop" }, {
        usage: { prompt_tokens: plan.promptTokens, completion_tokens: plan.completionTokens, total_tokens: plan.promptTokens + plan.completionTokens }
      }) + "data: [DONE]\n\n"
  }
}

/** Gemini's `GenerateContentResponse`s (`alt=sse`), the last with its finish reason and usage. */
const gemini = (id: string, plan: StreamPlan, model: string): Dialect => {
  const response = (text: string, finish?: string) => ({
    candidates: [{ index: 0, content: { role: "model", parts: [{ text }] }, ...(finish === undefined ? {} : { finishReason: finish }) }],
    modelVersion: model,
    responseId: id
  })
  return {
    piece: (text) => data(response(text)),
    end: () =>
      data({
        ...response("", "STOP"),
        usageMetadata: {
          promptTokenCount: plan.promptTokens,
          candidatesTokenCount: plan.completionTokens,
          totalTokenCount: plan.promptTokens + plan.completionTokens
        }
      })
  }
}

/**
 * Writes `plan` on `res` as SSE in the request's dialect (`gemini` names the model for Gemini's),
 * then ends it, or destroys the socket at `failAfter`.
 */
export const writeStream = (
  req: Http.IncomingMessage,
  res: Http.ServerResponse,
  id: string,
  plan: StreamPlan,
  geminiModel?: string
): void => {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
  const dialect = geminiModel === undefined ? chat(id, plan) : gemini(id, plan, geminiModel)
  const pieces = piecesOf(plan.content, plan.pieceChars ?? 8)
  const finish = () => {
    if (plan.endGapMs === undefined || plan.endGapMs <= 0) return void res.end(dialect.end())
    res.write(dialect.end())
    setTimeout(() => res.end(), plan.endGapMs)
  }
  const send = (i: number): void => {
    if (plan.failAfter !== undefined && i >= plan.failAfter) {
      // Flush what was written, then drop the connection mid-answer.
      setTimeout(() => req.socket.destroy(), 5)
      return
    }
    if (i >= pieces.length) return finish()
    res.write(dialect.piece(pieces[i]!))
    if (plan.gapMs === undefined || plan.gapMs <= 0) send(i + 1)
    else setTimeout(() => send(i + 1), plan.gapMs)
  }
  send(0)
}
