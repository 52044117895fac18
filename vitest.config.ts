import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Ink stops drawing live frames when CI is set (is-in-ci); the TUI tests need live frames, so the
// workers see CI=false. Whether this really is CI travels as EFFECT_AGENTS_CI, for the tests that
// must run there rather than skip (tmux, promtool).
const ci = process.env["CI"]
const inCi = ci !== undefined && ci !== "" && ci !== "0" && ci !== "false"

// Examples and tests import the package by name, as users do (`effect-agents`,
// `effect-agents/TestLayer`, ...); they run against the sources: each path of package.json's
// `exports` maps to the source module its dist file is built from.
const { exports } = JSON.parse(readFileSync(new URL("./package.json", import.meta.url), "utf8")) as {
  readonly exports: Record<string, string | { readonly import: string }>
}
const packageAliases = Object.entries(exports).flatMap(([path, target]) =>
  typeof target === "string" ? [] : [{
    find: new RegExp(`^effect-agents${path.slice(1).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`),
    replacement: fileURLToPath(new URL(target.import.replace(/^\.\/dist\//, "./src/").replace(/\.js$/, ".ts"), import.meta.url))
  }]
)

export default defineConfig({
  resolve: { alias: packageAliases },
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
