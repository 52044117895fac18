/**
 * Which packages a fresh Node process loads when it imports some modules: a resolve hook records
 * every ES module URL, and the CommonJS cache adds what those load with `require` (ioredis, pg and
 * better-sqlite3 are CommonJS). Used to check that an import path stays free of backends.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { promisify } from "node:util"

// Hooks run off the main thread: they post what they resolve, the main thread collects it.
const register = (hooksUrl: string) => `
import { register, createRequire } from "node:module"
import { MessageChannel } from "node:worker_threads"
const urls = new Set()
const { port1, port2 } = new MessageChannel()
port1.on("message", (url) => urls.add(url))
port1.unref()
register(${JSON.stringify(hooksUrl)}, { data: { port: port2 }, transferList: [port2] })
const require = createRequire(import.meta.url)
process.on("exit", () => {
  const files = [...urls].filter((u) => u.startsWith("file:")).map((u) => new URL(u).pathname)
  process.stdout.write(JSON.stringify([...files, ...Object.keys(require.cache)]))
})
`

const hooksWithPort = `
let port
export function initialize(data) { port = data.port }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  port.postMessage(resolved.url)
  return resolved
}
`

/** The package name a file under node_modules belongs to (`@scope/name` or `name`). */
export const packageOf = (file: string): string | undefined => {
  const match = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)
  return match?.[1]
}

/**
 * The packages (by name, sorted) a fresh `node` loads to import `specifiers` from `cwd`, with
 * `execArgv` before the hooks (e.g. `--import tsx` to load TypeScript sources).
 */
export const loadedPackages = async (
  cwd: string,
  specifiers: ReadonlyArray<string>,
  execArgv: ReadonlyArray<string> = []
): Promise<ReadonlyArray<string>> => {
  const dir = mkdtempSync(join(tmpdir(), "loaded-packages-"))
  try {
    writeFileSync(join(dir, "hooks.mjs"), hooksWithPort)
    writeFileSync(join(dir, "register.mjs"), register(pathToFileURL(join(dir, "hooks.mjs")).href))
    const program = specifiers.map((s) => `await import(${JSON.stringify(s)})`).join("; ")
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...execArgv, "--import", pathToFileURL(join(dir, "register.mjs")).href, "--input-type=module", "-e", program],
      { cwd, encoding: "utf8" }
    )
    const files = JSON.parse(stdout) as ReadonlyArray<string>
    return [...new Set(files.flatMap((f) => packageOf(f) ?? []))].sort()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Packages that are backends: none may load for a program that only defines agents and workflows. */
export const backends: ReadonlyArray<RegExp> = [
  /^ioredis$/,
  /^pg$/,
  /^pg-/,
  /^better-sqlite3$/,
  /^@opentelemetry\//,
  /^@effect\/opentelemetry$/,
  /^@effect\/sql-/,
  /^@effect\/ai-openrouter$/,
  /^@effect\/ai-google$/,
  /^undici$/,
  /^ink$/,
  /^react$/,
  /^@modelcontextprotocol\//
]

/** The backends among `packages`. */
export const backendsIn = (packages: ReadonlyArray<string>): ReadonlyArray<string> =>
  packages.filter((p) => backends.some((b) => b.test(p)))
