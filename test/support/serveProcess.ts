/**
 * `effect-agents serve` in a child process on a free loopback port, as a user or a service manager
 * starts it: the built CLI, exactly the environment given (plus PATH and a fresh data directory), the
 * simulated provider. Resolves once the server prints where it listens.
 */
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { binPath } from "./cli.js"
import { freePort } from "./redisServer.js"

/** A running `serve`. */
export interface ServeProcess {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  readonly port: number
  /** What it wrote to stderr so far (the startup line, the JSON log). */
  readonly stderr: () => string
  /** SIGTERM, then waits for the graceful shutdown; resolves with the exit code. */
  readonly stop: () => Promise<number | null>
}

/** Starts `serve`; rejects (and kills it) if it has not printed its address within `timeoutMs`. */
export const startServe = async (
  env: Readonly<Record<string, string>>,
  timeoutMs = 15_000
): Promise<ServeProcess> => {
  const dir = mkdtempSync(join(tmpdir(), "ea-serve-"))
  const port = await freePort()
  const child = spawn(process.execPath, [binPath, "serve", "--port", String(port)], {
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
  let stderr = ""
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)))
  const deadline = Date.now() + timeoutMs
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
    stderr: () => stderr,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      return exited
    }
  }
}
