/**
 * `effect-agents serve` in a child process on a free loopback port, as a user or a service manager
 * starts it: the built CLI, exactly the environment given (plus PATH and a fresh data directory), the
 * simulated provider. Resolves once the server prints where it listens. The serve-load benchmark
 * starts its server with it too (with Node flags such as `--cpu-prof`). Also a small Server-Sent
 * Events reader over `fetch`, as a client program reads the API's streams.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { binPath } from "./cli.js"
import { freePort } from "./redisServer.js"

export { freePort }

/** A running `serve`. */
export interface ServeProcess {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  readonly port: number
  readonly pid: number
  /** Its working directory, holding `data/` and `logs/`. */
  readonly dir: string
  /** What it wrote to stderr so far (the startup line, the JSON log). */
  readonly stderr: () => string
  /** Sends `signal` (default SIGTERM: a graceful shutdown) and resolves with the exit code once it has exited. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | null>
  readonly child: ChildProcess
  /** Resolves with the exit code (or the signal's name) once it has exited. */
  readonly exited: Promise<number | string | null>
}

/** How to start it besides its environment. */
export interface ServeOptions {
  /** Flags for `node` itself, e.g. `--cpu-prof`. */
  readonly nodeArgs?: ReadonlyArray<string>
  /** The CLI's entry: the bundle behind `bin/effect-agents.js` by default. */
  readonly script?: string
  readonly timeoutMs?: number
  /** More arguments of `serve` (`--host`, `--workflows`). */
  readonly args?: ReadonlyArray<string>
  /** A port of its own (to restart a server where its clients expect it); default a free one. */
  readonly port?: number
}

/** Starts `serve`; rejects (and kills it) if it has not printed its address within the timeout. */
export const startServe = async (
  env: Readonly<Record<string, string>>,
  options: ServeOptions = {}
): Promise<ServeProcess> => {
  const dir = mkdtempSync(join(tmpdir(), "ea-serve-"))
  const port = options.port ?? await freePort()
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script ?? binPath, "serve", "--port", String(port), ...(options.args ?? [])], {
    cwd: dir,
    env: {
      PATH: process.env["PATH"] ?? "",
      DATA_DIR: join(dir, "data"),
      LOG_DIR: join(dir, "logs"),
      LLM_PROVIDER: "simulated",
      ...env
    },
    stdio: ["ignore", "ignore", "pipe"]
  })
  // The start of stderr (the startup line and any error) and its end; a long load test logs a lot.
  let stderr = ""
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString()
    if (stderr.length > 64_000) stderr = `${stderr.slice(0, 16_000)}\n...\n${stderr.slice(-32_000)}`
  })
  const exited = new Promise<number | string | null>((resolve) => child.once("close", (code, signal) => resolve(code ?? signal)))
  const deadline = Date.now() + (options.timeoutMs ?? 15_000)
  while (!stderr.includes("listening on")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`serve did not start (exit ${child.exitCode}); stderr:\n${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? 0,
    dir,
    stderr: () => stderr,
    stop: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited.then((code) => (typeof code === "number" ? code : null))
    },
    child,
    exited
  }
}

/** One SSE message as a client sees it. */
export interface SseMessage {
  readonly id?: string
  readonly event: string
  readonly data: unknown
}

/**
 * Reads the SSE stream at `url` until `until` says stop, the server closes it, or `signal` aborts;
 * returns the messages (comments left out).
 */
export const readSse = async (
  url: string,
  options: {
    readonly headers?: Record<string, string>
    readonly until?: (messages: ReadonlyArray<SseMessage>) => boolean
    readonly signal?: AbortSignal
    readonly onOpen?: () => void
  } = {}
): Promise<Array<SseMessage>> => {
  const messages: Array<SseMessage> = []
  const abort = new AbortController()
  options.signal?.addEventListener("abort", () => abort.abort())
  const response = await fetch(url, { headers: options.headers ?? {}, signal: abort.signal })
  if (response.status !== 200 || response.body === null) throw new Error(`SSE ${url}: HTTP ${response.status}`)
  options.onOpen?.()
  const decoder = new TextDecoder()
  let buffer = ""
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true })
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const fields = new Map<string, string>()
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue
          const colon = line.indexOf(":")
          fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart())
        }
        if (!fields.has("data")) continue
        const id = fields.get("id")
        messages.push({ ...(id === undefined ? {} : { id }), event: fields.get("event") ?? "message", data: JSON.parse(fields.get("data")!) })
        if (options.until?.(messages) === true) {
          abort.abort()
          return messages
        }
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error
  }
  return messages
}
