/**
 * A Redis outage as a CLI user sees it: `effect-agents batch` with the cache and the limiter on a
 * private `redis-server` that is shut down mid-batch and started again. Every run succeeds, and
 * stderr holds the outage's warning and recovery lines only — nothing printed by the Redis client
 * (ioredis prints a client's connection errors with their stack when nobody listens for them).
 *
 * Real processes and a real clock: the behaviour under test is real sockets to a real server.
 */
import { Effect } from "effect"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runCli } from "./support/cli.js"
import { make as makeRedisServer, type RedisServer } from "./support/redisServer.js"

const RUNS = 280

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts a private server; `use` runs with it, and the server is stopped after. */
const withRedisServer = <A>(use: (server: RedisServer) => Promise<A>): Promise<A> =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(makeRedisServer, (server) => Effect.promise(() => use(server)))))

describe.runIf(process.env["REDIS_URL"])("Redis outage during a CLI batch (private redis-server)", () => {
  it("shut down and restarted mid-batch: every run succeeds, stderr has the outage lines and no client noise", () =>
    withRedisServer(async (server) => {
      const cwd = mkdtempSync(join(tmpdir(), "ea-redis-batch-"))
      const lines = Array.from({ length: RUNS }, (_, i) => JSON.stringify({ workflow: "summarize", input: `document ${i}` }))
      writeFileSync(join(cwd, "runs.jsonl"), lines.join("\n") + "\n")
      const started = Date.now()
      const batch = runCli(["batch", "runs.jsonl", "--concurrency", "4"], {
        cwd,
        timeoutMs: 60_000,
        env: {
          CACHE_BACKEND: "redis",
          RATE_LIMIT_BACKEND: "redis",
          REDIS_URL: server.url,
          SIM_LATENCY_MS: "100",
          RATE_LIMIT_MAX_CALLS: "100000",
          SIM_ERROR_RATE: "0",
          SIM_RATE_LIMIT_RATE: "0"
        }
      })
      // Down from 2.5 s to 4 s after the start (the CLI takes about 1 s to start); the breakers
      // probe every 2 s, so they find it back by about 6.5 s, while the batch (about 8 s) still runs.
      await sleep(2_500)
      await server.stop()
      await sleep(1_500)
      await server.start()
      const r = await batch
      const elapsed = Date.now() - started

      const address = `Redis at 127.0.0.1:${server.port}`
      const stderr = r.stderr.split("\n")
      console.log(`CLI batch of ${RUNS} runs through a Redis restart: ${elapsed} ms`)
      expect(r.code).toBe(0)
      expect(r.stderr).toContain(`batch: ${RUNS} of ${RUNS} runs succeeded`)
      expect(elapsed).toBeGreaterThan(7_000) // the batch outlived the outage and the probes
      expect(stderr.filter((l) => l.includes(`${address} unreachable`))).toHaveLength(2)
      expect(stderr.filter((l) => l.includes(`${address} is back`))).toHaveLength(2)
      expect(r.stderr).not.toContain("ioredis")
      expect(r.stderr + r.stdout).not.toMatch(/\n\s+at /)
    }), 90_000)
})
