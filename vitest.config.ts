import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Ink stops drawing live frames when CI is set (is-in-ci); the TUI tests need live frames, so the
// workers see CI=false. Whether this really is CI travels as EFFECT_AGENTS_CI, for the tests that
// must run there rather than skip (tmux, promtool).
const ci = process.env["CI"]
const inCi = ci !== undefined && ci !== "" && ci !== "0" && ci !== "false"

export default defineConfig({
  // Examples import the package by name, as users do; tests run them against the sources.
  resolve: { alias: { "effect-agents": fileURLToPath(new URL("./src/index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    // Native addons (better-sqlite3) and spawned CLIs behave best in child processes.
    pool: "forks",
    globalSetup: ["test/support/globalSetup.ts"],
    env: { CI: "false", EFFECT_AGENTS_CI: inCi ? "1" : "0" },
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
