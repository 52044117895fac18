/**
 * `effect-agents serve` as a child process on a port the OS picks (`--port 0`), and a small
 * Server-Sent Events reader over `fetch`, for the API's end-to-end tests.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { binPath } from "./cli.js"

export interface ServeProcess {
  readonly child: ChildProcess
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** Everything the process wrote to stderr so far. */
  readonly stderr: () => string
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string | null>
}

/** Starts `serve` with exactly `env` (plus PATH) and waits until it listens. */
export const startServe = (
  env: Readonly<Record<string, string>>,
  args: ReadonlyArray<string> = [],
  cwd = process.cwd()
): Promise<ServeProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, "serve", "--port", "0", ...args], {
      cwd,
      env: { PATH: process.env["PATH"] ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    const exited = new Promise<number | string | null>((done) => child.on("exit", (code, signal) => done(code ?? signal)))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`serve did not start in time:\n${stderr}`))
    }, 20_000)
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString()
      const match = /listening on (http:\/\/\S+?) /.exec(stderr)
      if (match !== null) {
        clearTimeout(timer)
        resolve({ child, url: match[1]!, stderr: () => stderr, exited })
      }
    })
    child.stdout!.resume()
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`serve exited (${code}) before listening:\n${stderr}`))
    })
  })

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
