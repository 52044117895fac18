/**
 * fakeServer — the loopback `FakeProvider` every llm-overhead variant calls, in a child process
 * of its own (so the client's CPU is measured alone), with what it saw counted on its side: the
 * requests, those whose body is not the shared prompt shape (answered 400, and the benchmark stops
 * on them), and the TCP connections accepted — which shows whether a variant kept its pool.
 */
import { type ChildProcess, fork } from "node:child_process"
import { channel } from "node:diagnostics_channel"
import * as FakeProvider from "../test/support/FakeProvider.js"
import { promptProblem } from "./promptShape.js"

/** Totals since the server started. */
export interface ServerStats {
  readonly requests: number
  readonly rejected: number
  /** The first rejected body's problem, when there was one. */
  readonly problem: string | undefined
  readonly connections: number
}

/** The child's side: serve `answer`, and answer `{ stats: true }` with the totals. */
export const serveFake = async (answer: FakeProvider.Behaviour = FakeProvider.ok("The fake provider answered.")): Promise<void> => {
  let requests = 0
  let rejected = 0
  let problem: string | undefined
  let connections = 0
  // Node's own channel for accepted sockets: counts connections without touching the server.
  channel("net.server.socket").subscribe(() => {
    connections += 1
  })
  const script: FakeProvider.Responder = (request) => {
    requests += 1
    const wrong = promptProblem(request.body)
    if (wrong === undefined) return answer
    rejected += 1
    problem ??= wrong
    return FakeProvider.status(400)
  }
  const fake = await FakeProvider.start({ record: false, script })
  process.on("message", () => {
    const stats: ServerStats = { requests, rejected, problem, connections }
    process.send?.({ stats })
  })
  process.send?.({ url: fake.url, openaiUrl: fake.openaiUrl })
  process.on("disconnect", () => {
    void fake.close().then(() => process.exit(0))
  })
}

/** A running fake server, seen from the parent. */
export interface FakeServer {
  readonly openaiUrl: string
  readonly stats: () => Promise<ServerStats>
  readonly stop: () => void
}

/** Starts `entry --fake-server` (the benchmark's own file dispatches to `serveFake`). */
export const startFake = (entry: string, execArgv: ReadonlyArray<string>): Promise<FakeServer> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = fork(entry, ["--fake-server"], { execArgv: [...execArgv] })
    const waiting: Array<(stats: ServerStats) => void> = []
    child.once("error", reject)
    child.on("message", (m) => {
      const message = m as { openaiUrl: string } | { stats: ServerStats }
      if ("stats" in message) {
        waiting.shift()?.(message.stats)
        return
      }
      resolve({
        openaiUrl: message.openaiUrl,
        stats: () =>
          new Promise((done) => {
            waiting.push(done)
            child.send({ stats: true })
          }),
        stop: () => child.disconnect()
      })
    })
  })
