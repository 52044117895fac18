/**
 * Where the SQLite LLM cache's writer runs, and the channel to it. Normally a worker thread running
 * `sqliteCacheWorker.ts` with its own connection, so neither the CPU of a write transaction nor a
 * WAL checkpoint's fsync nor a wait for another process's write lock runs on the event loop. When no
 * worker can run (it could not start, its module is missing from a bundle, or it died), the same
 * writer runs on the main connection: the same behaviour, only without the benefit. Requests the
 * worker had not answered are replayed there in order (they are idempotent, apart from hit/miss
 * counts that may be counted twice), and `onFallback` is called once.
 *
 * Plain `worker_threads` rather than `@effect/platform`'s `Worker`: requests are sent from outside
 * any fiber (the per-turn batch, release) and must be replayed on this thread if the worker dies.
 *
 * The worker keeps the process alive only while a request is unanswered: an idle cache never holds
 * a process open, and a release still gets its writes done.
 */
import { Worker } from "node:worker_threads"
import type { Database } from "./sqliteCacheFile.js"
import type { WorkerData, WriterCommand, WriterReply, WriterRequest } from "./sqliteCacheProtocol.js"
import { makeWriter } from "./sqliteCacheWriter.js"

/**
 * Where the writer runs: a worker thread; the main thread from the start (`main`, the fallback);
 * or a worker whose module does not exist (`failing-worker`: how tests see the switch to the
 * fallback).
 */
export type WriterPlacement = "worker" | "main" | "failing-worker"

export interface WriterChannel {
  /**
   * Sends a request; `onReply` gets its reply (on the in-process writer: before `send` returns).
   * Returns the request's id.
   */
  readonly send: (command: WriterCommand, onReply?: (reply: WriterReply) => void) => number
  /** Drops the callback of a request whose answer is no longer wanted (interruption). */
  readonly forget: (id: number) => void
  /** Closes the worker once it answered everything sent before; calls `done` then. */
  readonly close: (done: () => void) => void
}

const here = import.meta.url
/** From the sources (vitest, tsx) this module is `.ts`; in dist/ and in a bundle, `.js` or `.mjs`. */
const fromSources = here.endsWith(".ts")

/**
 * Starts the worker: its module sits next to this one (in the CLI bundle, an entry point of its
 * own beside the chunk that holds this code). From the sources it is started through `tsWorker.mjs`:
 * Node 20 applies no loader given in a worker's `execArgv` to the worker's own entry module.
 */
const spawn = (placement: "worker" | "failing-worker", workerData: WorkerData): Worker => {
  const name = placement === "failing-worker" ? "sqliteCacheWorker.missing" : "sqliteCacheWorker"
  const module = new URL(`./${name}${here.slice(here.lastIndexOf("."))}`, here)
  const execArgv = workerExecArgv(process.execArgv)
  return fromSources
    ? new Worker(new URL("./tsWorker.mjs", here), { workerData, execArgv, argv: [module.href] })
    : new Worker(module, { workerData, execArgv })
}

/**
 * The process's Node options minus `--input-type` (set for a script given with `-e`): a worker
 * inherits them, and Node refuses that one for a worker started from a file.
 */
const workerExecArgv = (argv: ReadonlyArray<string>): Array<string> =>
  argv.filter((arg, i) => !arg.startsWith("--input-type") && argv[i - 1] !== "--input-type")

const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** Wires a started worker: replies, and a failure (an error, an exit not asked for) once. */
const listen = (worker: Worker, handlers: {
  readonly onReply: (reply: WriterReply) => void
  readonly onFailure: (reason: string) => void
  readonly expectedExit: () => boolean
}): void => {
  // Only requests awaiting an answer keep the process alive (see `send`), never an idle worker.
  worker.unref()
  worker.on("message", handlers.onReply)
  worker.on("error", (error) => handlers.onFailure(messageOf(error)))
  worker.on("exit", (code) => {
    if (!handlers.expectedExit()) handlers.onFailure(`the writer thread exited (code ${code})`)
  })
}

/** The writer on the main connection, once the worker failed. */
const fallbackWriter = (db: Database, settings: WorkerData): (request: WriterRequest) => WriterReply => {
  try {
    return makeWriter(db, settings)
  } catch (error) {
    // Not expected (the main connection created the schema); every request then fails instead.
    const failure = messageOf(error)
    return (request) => ({ id: request.id, error: failure })
  }
}

/**
 * Starts the writer on a worker thread (or, if `placement` says so or no worker can run, on `db`
 * on this thread). `onFallback` is called once when writes move to this thread.
 */
export const startWriter = (options: {
  readonly db: Database
  readonly workerData: WorkerData
  readonly placement: WriterPlacement
  readonly onFallback: (reason: string) => void
}): WriterChannel => {
  const callbacks = new Map<number, (reply: WriterReply) => void>()
  // Sent to the worker and not answered yet, in order: replayed if the worker dies.
  const unanswered = new Map<number, WriterRequest>()
  let nextId = 0
  let local: ((request: WriterRequest) => WriterReply) | undefined
  let worker: Worker | undefined
  let closing = false

  const deliver = (reply: WriterReply) => {
    const callback = callbacks.get(reply.id)
    callbacks.delete(reply.id)
    callback?.(reply)
  }
  const answerLocally = (request: WriterRequest) => {
    const reply = local!(request)
    // "close" closes no connection here (the main one is closed by its owner) and cannot fail.
    deliver(request.op === "close" ? { id: request.id } : reply)
  }
  const fallBack = (reason: string) => {
    if (local !== undefined) return
    worker = undefined
    local = fallbackWriter(options.db, options.workerData)
    options.onFallback(reason)
    const replay = [...unanswered.values()]
    unanswered.clear()
    for (const request of replay) answerLocally(request)
  }

  if (options.placement === "main") {
    local = makeWriter(options.db, options.workerData)
  } else {
    try {
      worker = spawn(options.placement, options.workerData)
      listen(worker, {
        onReply: (reply) => {
          unanswered.delete(reply.id)
          if (unanswered.size === 0) worker?.unref()
          deliver(reply)
        },
        onFailure: fallBack,
        // Node delivers a worker's last messages before "exit": anything unanswered then is lost.
        expectedExit: () => closing && unanswered.size === 0
      })
    } catch (error) {
      fallBack(messageOf(error))
    }
  }

  const send = (command: WriterCommand, onReply?: (reply: WriterReply) => void): number => {
    const request: WriterRequest = { ...command, id: ++nextId }
    if (onReply !== undefined) callbacks.set(request.id, onReply)
    if (worker === undefined) {
      answerLocally(request)
    } else {
      unanswered.set(request.id, request)
      if (unanswered.size === 1) worker.ref()
      worker.postMessage(request)
    }
    return request.id
  }

  return {
    send,
    forget: (id) => {
      callbacks.delete(id)
    },
    close: (done) => {
      closing = true
      send({ op: "close" }, () => {
        const running = worker
        if (running === undefined) done()
        else void running.terminate().finally(done)
      })
    }
  }
}
