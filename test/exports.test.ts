/**
 * The package's import paths: every module has a path of its own (`effect-agents/Agent`,
 * `effect-agents/RunHistoryPostgres`, ...), and the root `effect-agents` loads no backend, so a
 * program that only defines agents and workflows does not pay for Redis, PostgreSQL, SQLite,
 * OpenTelemetry or the provider clients. Checked on the sources (loaded through tsx, the same
 * import graph as dist/); test/packInstall.test.ts checks the installed package the same way.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { backendsIn, loadedPackages } from "./support/loadedPackages.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  readonly exports: Record<string, string | { readonly types: string; readonly import: string }>
}
const modulePaths = Object.entries(pkg.exports).flatMap(([path, target]) => typeof target === "string" ? [] : [{ path, target }])

/** The source file a dist file is built from. */
const sourceOf = (distFile: string): string => distFile.replace(/^\.\/dist\//, "src/").replace(/\.(d\.ts|js)$/, ".ts")

/** The packages a fresh process loads to import the package's `path`, from the sources. */
const loadedBy = (path: string): Promise<ReadonlyArray<string>> => {
  const target = pkg.exports[path]
  if (target === undefined || typeof target === "string") throw new Error(`no module at ${path}`)
  return loadedPackages(root, [`./${sourceOf(target.import)}`], ["--import", "tsx"])
}

describe("import paths", () => {
  it("every path names a module built from src/, its types beside its code", () => {
    const problems = modulePaths.flatMap(({ path, target }) => {
      const source = sourceOf(target.import)
      return [
        ...(existsSync(join(root, source)) ? [] : [`${path}: no ${source}`]),
        ...(sourceOf(target.types) === source ? [] : [`${path}: types ${target.types} are not those of ${target.import}`])
      ]
    })
    expect(problems).toEqual([])
  })

  it("every module the root exports has its own path, under its name in the root", () => {
    const index = readFileSync(join(root, "src/index.ts"), "utf8")
    const reexports = [...index.matchAll(/^export \* as (\w+) from "\.\/(.+)\.js"$/gm)]
      // Deprecated aliases keep their old name in the root only.
      .filter(([, name]) => name !== "Resilience")
      .map(([, name, file]) => `./${name} -> ./dist/${file}.js`)
    const paths = modulePaths.map(({ path, target }) => `${path} -> ${target.import}`)
    expect(reexports.length).toBeGreaterThan(20)
    expect(paths).toEqual(expect.arrayContaining(reexports))
  })

  it("importing the root loads no backend, no provider client and no UI", { timeout: 60_000 }, async () => {
    const packages = await loadedBy(".")
    expect(packages).toContain("effect")
    expect(backendsIn(packages)).toEqual([])
  })

  it("importing MainLayer loads the backends it wires (what the check above would see)", { timeout: 60_000 }, async () => {
    const packages = await loadedBy("./MainLayer")
    expect(backendsIn(packages)).toEqual(expect.arrayContaining(["ioredis", "pg", "better-sqlite3", "@effect/ai-openrouter", "@opentelemetry/api"]))
    // The MCP SDK is an optional peer: only its own path loads it.
    expect(packages).not.toContain("@modelcontextprotocol/sdk")
  })

  it("only effect-agents/McpTools loads the MCP SDK (an optional peer dependency)", { timeout: 60_000 }, async () => {
    expect(await loadedBy("./McpTools")).toContain("@modelcontextprotocol/sdk")
  })
})
