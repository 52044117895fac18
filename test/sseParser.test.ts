/**
 * The event-stream parser reads what servers send as browsers' EventSource does (the HTML
 * standard's rules): every way of splitting the same bytes into chunks gives the same messages.
 */
import { describe, expect, it } from "vitest"
import * as SseParser from "../src/internal/sseParser.js"

/** Everything the text yields when fed in one piece. */
const parse = (text: string) => SseParser.make().feed(text)

/** The messages the text yields when fed one character at a time. */
const parseByChar = (text: string) => {
  const parser = SseParser.make()
  return Array.from(text).flatMap((c) => parser.feed(c).messages)
}

describe("SSE parser", () => {
  it("reads id, event and data of each message, as our server writes them", () => {
    const text = ": connected\n\nid: 1\nevent: WorkflowStarted\ndata: {\"a\":1}\n\nid: 2\nevent: StepStarted\ndata: {}\n\n"
    expect(parse(text).messages).toEqual([
      { id: "1", event: "WorkflowStarted", data: "{\"a\":1}" },
      { id: "2", event: "StepStarted", data: "{}" }
    ])
  })

  it("joins multi-line data with newlines and defaults the event type to message", () => {
    expect(parse("data: first\ndata:second\ndata:  third\n\n").messages).toEqual([
      { id: "", event: "message", data: "first\nsecond\n third" }
    ])
  })

  it("accepts CRLF, LF and CR line ends, also when a CRLF is split between chunks", () => {
    const text = "id: 7\r\ndata: a\r\n\r\ndata: b\r\rdata: c\n\n"
    const expected = [
      { id: "7", event: "message", data: "a" },
      { id: "7", event: "message", data: "b" },
      { id: "7", event: "message", data: "c" }
    ]
    expect(parse(text).messages).toEqual(expected)
    expect(parseByChar(text)).toEqual(expected)
    const parser = SseParser.make()
    expect([...parser.feed("data: x\r").messages, ...parser.feed("\n\r").messages, ...parser.feed("\n").messages]).toEqual([
      { id: "", event: "message", data: "x" }
    ])
  })

  it("gives the same messages however the stream is cut into chunks", () => {
    const text = "\uFEFFretry: 1500\nid: 41\nevent: A\ndata: {\"é\":\"ü\"}\ndata: 2\n\n: heartbeat\n\nid: 42\ndata: z\n\n"
    const whole = parse(text).messages
    expect(whole).toHaveLength(2)
    for (let cut = 1; cut < text.length; cut++) {
      const parser = SseParser.make()
      const messages = [...parser.feed(text.slice(0, cut)).messages, ...parser.feed(text.slice(cut)).messages]
      expect(messages).toEqual(whole)
    }
    expect(parseByChar(text)).toEqual(whole)
  })

  it("ignores comments, unknown fields and a field without a colon other than data", () => {
    expect(parse(": hi\nfoo: bar\nevent\ndata\n\n").messages).toEqual([{ id: "", event: "message", data: "" }])
  })

  it("keeps the last id for later messages, and an empty id clears it", () => {
    const messages = parse("id: 5\ndata: a\n\ndata: b\n\nid\ndata: c\n\n").messages
    expect(messages.map((m) => m.id)).toEqual(["5", "5", ""])
  })

  it("sets the id from a block without data, dispatching nothing", () => {
    const parser = SseParser.make()
    expect(parser.feed("id: 9\n\n").messages).toEqual([])
    expect(parser.lastEventId()).toBe("9")
    expect(parser.feed("data: x\n\n").messages).toEqual([{ id: "9", event: "message", data: "x" }])
  })

  it("ignores an id containing NUL", () => {
    const parser = SseParser.make()
    expect(parser.feed("id: 3\n\nid: 4\u0000\ndata: x\n\n").messages).toEqual([{ id: "3", event: "message", data: "x" }])
  })

  it("reads retry only when it is all digits", () => {
    expect(parse("retry: 2500\n\n").retryMs).toBe(2500)
    expect(parse("retry: 2.5\n\n").retryMs).toBeUndefined()
    expect(parse("retry: soon\n\n").retryMs).toBeUndefined()
  })

  it("drops a block the stream ends in the middle of", () => {
    const parser = SseParser.make()
    expect(parser.feed("id: 1\ndata: whole\n\nid: 2\ndata: half").messages).toEqual([
      { id: "1", event: "message", data: "whole" }
    ])
  })

  it("removes only one space after the colon, and only a leading BOM", () => {
    expect(parse("data:   spaced\n\n").messages[0]?.data).toBe("  spaced")
    expect(parse("data: a\uFEFFb\n\n").messages[0]?.data).toBe("a\uFEFFb")
  })
})
