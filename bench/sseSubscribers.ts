/**
 * sseSubscribers — the serve-load benchmark's SSE clients, in a child process of their own so that
 * reading ~10^6 messages does not delay the clients whose request latency is measured (nor the
 * other way round). Each holds `GET /v1/events` open for the whole benchmark and behaves as
 * `EventSource` does: when its stream ends (an `error` message, e.g. dropped for being too slow)
 * it reconnects with `Last-Event-ID`. Per run it notes when its `WorkflowStarted` arrived and how
 * many `WorkflowFinished` it got, when, and their `at`.
 *
 * Protocol with the parent (IPC): the child says `{ connected }` once every stream is open; the
 * parent sends `{ begin }` when the load starts, then `{ expect: { ids, postDoneAt, timeoutMs } }`;
 * the child waits until every subscriber has seen every id finish (or the timeout) and answers with
 * a `DeliveryReport`. Disconnecting ends it.
 */
import { performance } from "node:perf_hooks"
import { Pool } from "undici"
import { percentile } from "./measure.js"

/** What the subscribers saw of the expected runs. Times are epoch ms. */
export interface DeliveryReport {
  /** ms from the POST's response (read by the load client) to `WorkflowStarted` read here: p50, p99, max. */
  readonly startedLag: readonly [number, number, number]
  /** (subscriber, run) pairs whose `WorkflowStarted` arrived before the POST's response was read. */
  readonly startedBeforeResponse: number
  /** ms from `WorkflowFinished`'s `at` (the server's clock, whole ms) to its arrival: p50, p99, max. */
  readonly finishedLag: readonly [number, number, number]
  readonly pairs: number
  readonly missingStarted: number
  readonly missingFinished: number
  readonly duplicateFinished: number
  /** Runs that some subscriber did not see finish exactly once. */
  readonly lostRuns: number
  /** Latest `at` of the expected runs' `WorkflowFinished`. */
  readonly lastFinishedAt: number
  /** When the last subscriber got the last of them. */
  readonly allDeliveredAt: number
  readonly reconnects: number
  readonly errors: ReadonlyArray<string>
  /** CPU seconds this process used since `begin`. */
  readonly cpuSeconds: number
}

interface Seen {
  started: number
  finished: number
  finishedRecv: number
  finishedAt: number
}

interface Subscriber {
  readonly runs: Map<string, Seen>
  lastId: string | undefined
  connected: boolean
  reconnects: number
  readonly errors: Array<string>
}

const now = () => performance.timeOrigin + performance.now()

/** The run id of an event's JSON: the first `"runId":"…"` (inside strings the quotes are escaped). */
const runIdOf = (data: string) => {
  const at = data.indexOf('"runId":"')
  return at < 0 ? undefined : data.slice(at + 9, data.indexOf('"', at + 9))
}
const atOf = (data: string) => {
  const at = data.lastIndexOf('"at":')
  return Number(data.slice(at + 5, data.indexOf(",", at + 5)))
}

const seen = (sub: Subscriber, id: string): Seen => {
  let s = sub.runs.get(id)
  if (s === undefined) {
    s = { started: Number.NaN, finished: 0, finishedRecv: Number.NaN, finishedAt: Number.NaN }
    sub.runs.set(id, s)
  }
  return s
}

/** One SSE message (without its blank line). */
const handle = (sub: Subscriber, block: string, received: number) => {
  if (block.startsWith(":")) {
    if (block.startsWith(": connected")) sub.connected = true
    return
  }
  let event = ""
  let data = ""
  for (const line of block.split("\n")) {
    if (line.startsWith("id: ")) sub.lastId = line.slice(4)
    else if (line.startsWith("event: ")) event = line.slice(7)
    else if (line.startsWith("data: ")) data = line.slice(6)
  }
  if (event === "WorkflowStarted") {
    const s = seen(sub, runIdOf(data) ?? "")
    if (Number.isNaN(s.started)) s.started = received
  } else if (event === "WorkflowFinished") {
    const s = seen(sub, runIdOf(data) ?? "")
    s.finished += 1
    s.finishedRecv = received
    s.finishedAt = atOf(data)
  } else if (event === "error") {
    sub.errors.push(data)
  }
}

/** Follows the stream, reconnecting after `lastId`, until `stopped()`. */
const follow = async (sub: Subscriber, pool: Pool, token: string, stopped: () => boolean) => {
  while (!stopped()) {
    try {
      const { statusCode, body } = await pool.request({
        path: "/v1/events",
        method: "GET",
        headers: {
          authorization: `Bearer ${token}`,
          accept: "text/event-stream",
          ...(sub.lastId === undefined ? {} : { "last-event-id": sub.lastId })
        }
      })
      if (statusCode !== 200) throw new Error(`GET /v1/events answered ${statusCode}`)
      body.setEncoding("utf8")
      let buffer = ""
      for await (const chunk of body as AsyncIterable<string>) {
        buffer += chunk
        const received = now()
        let from = 0
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n", from)) {
          handle(sub, buffer.slice(from, end), received)
          from = end + 2
        }
        buffer = buffer.slice(from)
      }
    } catch (e) {
      if (!stopped()) sub.errors.push(e instanceof Error ? e.message : String(e))
    }
    if (!stopped()) sub.reconnects += 1
  }
}

const stats = (xs: Array<number>): readonly [number, number, number] => {
  const sorted = Float64Array.from(xs).sort()
  return [percentile(sorted, 0.5), percentile(sorted, 0.99), sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!]
}

const report = (subs: ReadonlyArray<Subscriber>, ids: ReadonlyArray<string>, postDoneAt: ReadonlyArray<number>, cpuSeconds: number): DeliveryReport => {
  const startedLag: Array<number> = []
  const finishedLag: Array<number> = []
  let missingStarted = 0, missingFinished = 0, duplicateFinished = 0, startedBeforeResponse = 0
  let lastFinishedAt = 0, allDeliveredAt = 0
  const lost = new Set<string>()
  for (const sub of subs) {
    ids.forEach((id, i) => {
      const s = sub.runs.get(id)
      if (s === undefined || Number.isNaN(s.started)) missingStarted += 1
      else {
        startedLag.push(s.started - postDoneAt[i]!)
        if (s.started < postDoneAt[i]!) startedBeforeResponse += 1
      }
      if (s === undefined || s.finished === 0) missingFinished += 1
      else {
        finishedLag.push(s.finishedRecv - s.finishedAt)
        lastFinishedAt = Math.max(lastFinishedAt, s.finishedAt)
        allDeliveredAt = Math.max(allDeliveredAt, s.finishedRecv)
      }
      if (s !== undefined && s.finished > 1) duplicateFinished += 1
      if (s === undefined || s.finished !== 1) lost.add(id)
    })
  }
  return {
    startedLag: stats(startedLag),
    startedBeforeResponse,
    finishedLag: stats(finishedLag),
    pairs: subs.length * ids.length,
    missingStarted,
    missingFinished,
    duplicateFinished,
    lostRuns: lost.size,
    lastFinishedAt,
    allDeliveredAt,
    reconnects: subs.reduce((n, s) => n + s.reconnects, 0),
    errors: [...new Set(subs.flatMap((s) => s.errors))].slice(0, 5),
    cpuSeconds
  }
}

/** The child's side: `count` subscribers on `url`. */
export const serveSubscribers = (url: string, token: string, count: number): void => {
  let stopped = false
  const pool = new Pool(url, { connections: count + 5, bodyTimeout: 0 })
  const subs: Array<Subscriber> = Array.from({ length: count }, () => ({
    runs: new Map(), lastId: undefined, connected: false, reconnects: 0, errors: []
  }))
  for (const sub of subs) void follow(sub, pool, token, () => stopped)
  const connected = setInterval(() => {
    if (subs.every((s) => s.connected)) {
      clearInterval(connected)
      process.send?.({ connected: true })
    }
  }, 20)
  let cpuAtBegin = process.cpuUsage()
  process.on("message", (m) => {
    const message = m as { begin: true } | { expect: { ids: Array<string>; postDoneAt: Array<number>; timeoutMs: number } }
    if ("begin" in message) {
      cpuAtBegin = process.cpuUsage()
      return
    }
    const { ids, postDoneAt, timeoutMs } = message.expect
    const deadline = Date.now() + timeoutMs
    const check = setInterval(() => {
      const done = subs.every((s) => ids.every((id) => (s.runs.get(id)?.finished ?? 0) > 0))
      if (!done && Date.now() < deadline) return
      clearInterval(check)
      const cpu = process.cpuUsage(cpuAtBegin)
      process.send?.({ report: report(subs, ids, postDoneAt, (cpu.user + cpu.system) / 1e6) })
    }, 100)
  })
  process.on("disconnect", () => {
    stopped = true
    void pool.destroy().then(() => process.exit(0))
  })
}
