/**
 * The SQLite LLM cache's writer thread: the module a `Worker` runs (see `sqliteCacheWriterThread.ts`,
 * which starts it). It opens its own connection to the file and answers each request with the
 * writer, in order. The CLI bundle builds it as an entry point of its own next to the chunks.
 */
import { parentPort, workerData } from "node:worker_threads"
import { connect } from "./sqliteCacheFile.js"
import type { WorkerData, WriterRequest } from "./sqliteCacheProtocol.js"
import { makeWriter } from "./sqliteCacheWriter.js"

const port = parentPort
if (port === null) throw new Error("sqliteCacheWorker runs as a worker thread only")
const settings = workerData as WorkerData
const db = connect({ driverPath: settings.driverPath, path: settings.path, create: false })
const handle = makeWriter(db, settings)

port.on("message", (request: WriterRequest) => {
  const reply = handle(request)
  if (request.op === "close") {
    db.close()
    port.postMessage({ id: request.id })
    port.close()
    return
  }
  port.postMessage(reply, reply.keys === undefined ? [] : [reply.keys.packed.buffer as ArrayBuffer])
})
