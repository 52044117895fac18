import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  // Examples import the package by name, as users do; tests run them against the sources.
  resolve: { alias: { "effect-agents": fileURLToPath(new URL("./src/index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts", "test/**/*.test.tsx"],
    // Native addons (better-sqlite3) and spawned CLIs behave best in child processes.
    pool: "forks",
    globalSetup: ["test/support/globalSetup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
