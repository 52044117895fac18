/**
 * An incremental parser of `text/event-stream` bodies, as the WHATWG HTML standard's "event stream
 * interpretation" describes it: lines end with CRLF, LF or CR (also split across chunks); a
 * leading BOM is dropped; `:` lines are comments; `data` lines are joined with `\n`; `id` persists
 * until the server sets it again (one containing NUL is ignored); `retry` takes digits only; a
 * blank line dispatches, and a block without data dispatches nothing (but still sets the id). A
 * block the stream ends in the middle of is dropped, as a browser drops it.
 */

/** One dispatched event. */
export interface SseMessage {
  /** The event source's last event id when it was dispatched (`""` when none was ever set). */
  readonly id: string
  /** The `event` field, `message` when absent. */
  readonly event: string
  readonly data: string
}

/** What a chunk of text yields: messages in order, and the reconnection time if the server set one. */
export interface SseChunk {
  readonly messages: ReadonlyArray<SseMessage>
  /** The last valid `retry` field in the chunk, in milliseconds. */
  readonly retryMs: number | undefined
}

/** A parser's state between chunks. */
export interface SseParser {
  /** Parses the next piece of decoded text. */
  readonly feed: (text: string) => SseChunk
  /** The last event id seen so far, dispatched or not (what a reconnecting client sends back). */
  readonly lastEventId: () => string
}

const DIGITS = /^[0-9]+$/

/** A new parser, at the start of a stream. */
export const make = (): SseParser => {
  let pending = ""
  let started = false
  // A CR ended the previous chunk: an LF opening this one belongs to the same line break.
  let afterCr = false
  let data: Array<string> = []
  let eventType = ""
  let lastId = ""

  const field = (line: string, out: { messages: Array<SseMessage>; retryMs: number | undefined }) => {
    if (line === "") {
      if (data.length > 0) out.messages.push({ id: lastId, event: eventType === "" ? "message" : eventType, data: data.join("\n") })
      data = []
      eventType = ""
      return
    }
    if (line.charCodeAt(0) === 58 /* : */) return
    const colon = line.indexOf(":")
    const name = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? "" : line.slice(colon + 1)
    if (value.charCodeAt(0) === 32 /* space */) value = value.slice(1)
    switch (name) {
      case "event":
        eventType = value
        return
      case "data":
        data.push(value)
        return
      case "id":
        if (!value.includes("\u0000")) lastId = value
        return
      case "retry":
        if (DIGITS.test(value)) out.retryMs = Number(value)
        return
    }
  }

  const feed = (text: string): SseChunk => {
    let input = text
    if (!started && input.length > 0) {
      started = true
      if (input.charCodeAt(0) === 0xfeff) input = input.slice(1)
    }
    if (afterCr && input.charCodeAt(0) === 10) input = input.slice(1)
    afterCr = false
    const out = { messages: [] as Array<SseMessage>, retryMs: undefined as number | undefined }
    let buffer = pending + input
    let start = 0
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      field(buffer.slice(start, i), out)
      if (c === 13) {
        if (i + 1 === buffer.length) afterCr = true
        else if (buffer.charCodeAt(i + 1) === 10) i++
      }
      start = i + 1
    }
    buffer = buffer.slice(start)
    pending = buffer
    return out
  }

  return { feed, lastEventId: () => lastId }
}
