/**
 * `effect-agents serve` in a child process on a loopback port, as a user runs it: for tests of
 * clients of the API (the remote dashboard). The server is the built CLI (`npm run build` first),
 * on the simulated provider with no faults unless the test says otherwise.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { binPath } from "./cli.js"

export { freePort } from "./redisServer.js"

/** A running server. */
export interface ServeProcess {
  readonly url: string
  readonly child: ChildProcess
  /** What it wrote on stderr so far. */
  readonly stderr: () => string
  /** Kills it with `signal` and waits until it has exited. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<void>
}

/**
 * Starts `serve --port port` with exactly `env` (plus PATH) and resolves once it listens; fails
 * with its output if it exits first or takes longer than `timeoutMs`.
 */
export const startServe = (
  port: number,
  env: Readonly<Record<string, string>>,
  timeoutMs = 20_000
): Promise<ServeProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, "serve", "--port", String(port)], {
      env: { PATH: process.env["PATH"] ?? "", SIM_ERROR_RATE: "0", SIM_RATE_LIMIT_RATE: "0", ...env },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`serve did not listen within ${timeoutMs} ms:\n${stderr}`))
    }, timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`serve exited (${code}) before listening:\n${stderr}`))
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
      if (!stderr.includes("listening on")) return
      clearTimeout(timer)
      resolve({
        url: `http://127.0.0.1:${port}`,
        child,
        stderr: () => stderr,
        stop: async (signal = "SIGTERM") => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal)
          await exited
        }
      })
    })
  })
