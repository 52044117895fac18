/**
 * A private `redis-server` on a free loopback port, for tests that must stop, hang or restart a
 * Redis (never the shared one). It keeps nothing on disk (`--save "" --appendonly no`), so a
 * restart on the same port comes back empty.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import { Effect, type Scope } from "effect"

/** A private Redis server. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:<port>/0`. */
  readonly url: string
  /** Stops it as `redis-cli shutdown nosave` would (SIGTERM) and waits for the process to end. */
  readonly stop: () => Promise<void>
  /** Starts it again on the same port and waits for it to answer PING. */
  readonly start: () => Promise<void>
  /** Freezes it (SIGSTOP): connections stay open, nothing answers. */
  readonly freeze: () => void
  /** Lets a frozen server run again (SIGCONT). */
  readonly thaw: () => void
}

/** A loopback port nobody listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Whether a server on `port` answers PING with PONG. */
const pong = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once("error", () => done(false))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")))
  })

const waitForPong = async (port: number, child: ChildProcess): Promise<void> => {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`)
    if (await pong(port)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s`)
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()))

/** Starts a private server and waits for its PONG; the scope stops it. */
export const make: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const port = await freePort()
    let child: ChildProcess | undefined
    const start = async () => {
      const proc = spawn("redis-server", [
        "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"
      ], { stdio: "ignore" })
      child = proc
      await waitForPong(port, proc)
    }
    const signal = (name: NodeJS.Signals) => child?.kill(name)
    const stop = async () => {
      const current = child
      if (current === undefined) return
      current.kill("SIGCONT")
      current.kill("SIGTERM")
      await exited(current)
    }
    await start()
    return {
      port,
      url: `redis://127.0.0.1:${port}/0`,
      stop,
      start,
      freeze: () => void signal("SIGSTOP"),
      thaw: () => void signal("SIGCONT")
    }
  }),
  (server) => Effect.promise(() => server.stop())
)
