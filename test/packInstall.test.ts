/**
 * Installing the package as a user does: `npm pack` the current sources, `npm install` the tarball
 * into a new project with the command and `allowScripts` the README gives (from the npm registry,
 * through the machine's npm cache when it can), then type-check a small program against the
 * installed package with tsc and run it with node. The install prints no ERESOLVE and no
 * unreviewed install script; a second `effect` of another major fails the install loudly; the root
 * import loads no backend.
 */
import { spawn } from "node:child_process"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { builtinModules } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { backendsIn, loadedPackages } from "./support/loadedPackages.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const readme = readFileSync(join(root, "README.md"), "utf8")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  readonly peerDependencies: Record<string, string>
}

/** The README's install command: the packages installed beside effect-agents. */
const besideInReadme = (): ReadonlyArray<string> => {
  const line = /^npm install effect-agents (.+)$/m.exec(readme)?.[1]
  if (line === undefined) throw new Error("README.md has no `npm install effect-agents ...` line")
  return line.trim().split(/\s+/)
}

/** The README's `allowScripts` block, as the user's package.json gets it. */
const allowScriptsInReadme = (): Record<string, boolean> => {
  const block = /```json\n(\{\s*"allowScripts"[\s\S]*?)```/.exec(readme)?.[1]
  if (block === undefined) throw new Error("README.md has no ```json block with \"allowScripts\"")
  return (JSON.parse(block) as { allowScripts: Record<string, boolean> }).allowScripts
}

// npm passes its settings to scripts as npm_* variables; the user's npm starts without them.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")))

interface Ran {
  readonly status: number | null
  /** stdout, then stderr. */
  readonly output: string
  readonly stdout: string
}

// Asynchronous: an install takes minutes, and a blocked worker cannot answer vitest's calls.
const run = (cwd: string, command: string, args: ReadonlyArray<string>): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: cleanEnv, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.once("error", reject)
    child.once("close", (status) => resolve({ status, stdout, output: `${stdout}\n${stderr}` }))
  })

const mustSucceed = async (what: string, ran: Promise<Ran>): Promise<Ran> => {
  const r = await ran
  if (r.status !== 0) throw new Error(`${what} exited with ${r.status}:\n${r.output.slice(-4000)}`)
  return r
}

/** The user's program: the README's agent and workflow (`examples/headline.ts`), a test stack with a scripted model, a report. */
const headlineTs = readFileSync(join(root, "examples", "headline.ts"), "utf8")

const mainTs = `import { Console, Effect } from "effect"
import { ScriptedModel } from "effect-agents"
import * as TestLayer from "effect-agents/TestLayer"
import { headline } from "./headline.js"

const program = Effect.gen(function*() {
  const report = yield* headline.runReport("Effect 3.22 ships faster fibers")
  yield* Console.log(JSON.stringify({ status: report.status, output: report.output, calls: yield* ScriptedModel.calls }))
})

Effect.runPromise(program.pipe(Effect.provide(TestLayer.layer({
  languageModel: ScriptedModel.layer([
    ScriptedModel.fail(503),
    ScriptedModel.answer({ headline: "Fast fibers", teaser: "Effect got quicker." })
  ])
}))))
`

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: true,
    outDir: "out"
  },
  include: ["*.ts"]
}

/** Every installed copy of package `name` under `dir`'s node_modules, nested ones included. */
const copiesOf = (dir: string, name: string): ReadonlyArray<string> => {
  const modules = join(dir, "node_modules")
  if (!existsSync(modules)) return []
  const packages = readdirSync(modules).flatMap((entry) =>
    entry.startsWith("@") ? readdirSync(join(modules, entry)).map((sub) => `${entry}/${sub}`) : entry.startsWith(".") ? [] : [entry]
  )
  return [
    ...(packages.includes(name) ? [join(modules, name)] : []),
    ...packages.flatMap((p) => copiesOf(join(modules, p), name))
  ]
}

/** Files under `dir` whose name ends with `suffix`. */
const filesUnder = (dir: string, suffix: string): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name), suffix) : e.name.endsWith(suffix) ? [join(dir, e.name)] : []
  )

/** The packages a module's text imports (`from "x"`, `import("x")`), Node's own modules left out. */
const importedPackages = (text: string): ReadonlyArray<string> =>
  [...text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["']([^"'.\/][^"']*)["']/g)]
    .map(([, specifier]) => specifier!.split("/").slice(0, specifier!.startsWith("@") ? 2 : 1).join("/"))
    .filter((name) => !name.startsWith("node:") && !builtinModules.includes(name))

let work: string
let app: string
let installOutput: string

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "pack-install-"))
  // Packed from a copy of the sources, built there (`npm pack` runs `prepare`), so a stale dist/
  // here cannot stand in for the code under test.
  const source = join(work, "source")
  mkdirSync(source)
  for (const entry of ["package.json", "README.md", ".env.example", "bin", "examples", "scripts", "src", "tsconfig.json", "tsconfig.build.json"]) {
    cpSync(join(root, entry), join(source, entry), { recursive: true })
  }
  symlinkSync(realpathSync(join(root, "node_modules")), join(source, "node_modules"), "dir")
  await mustSucceed("npm pack", run(source, "npm", ["pack", "--pack-destination", work]))
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"))
  if (tarball === undefined) throw new Error(`npm pack wrote no tarball in ${work}`)

  app = join(work, "app")
  mkdirSync(app)
  // A tarball's own scripts are listed for review too, under its file: spec (a registry install
  // does not list them).
  const allowScripts = { ...allowScriptsInReadme(), [`file:${join(work, tarball)}`]: false }
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "my-agents", private: true, type: "module", allowScripts }, null, 2))
  const install = run(app, "npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", join(work, tarball), ...besideInReadme()])
  installOutput = (await mustSucceed("npm install", install)).output
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify(tsconfig, null, 2))
  writeFileSync(join(app, "headline.ts"), headlineTs)
  writeFileSync(join(app, "main.ts"), mainTs)
}, 20 * 60_000)

// A fresh install is tens of thousands of files: removing them takes a while on a busy machine.
afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
}, 5 * 60_000)

describe("npm pack, then npm install into a new project", () => {
  it("the README installs the peers at the ranges package.json declares", () => {
    for (const spec of besideInReadme()) {
      const at = spec.lastIndexOf("@")
      expect(pkg.peerDependencies[spec.slice(0, at)], spec).toBe(spec.slice(at + 1))
    }
    expect(pkg.peerDependencies["effect"]).toMatch(/^\^3\./)
  })

  it("installs with no ERESOLVE and no unreviewed install script", () => {
    expect(installOutput).not.toMatch(/ERESOLVE|overriding peer dependency/)
    expect(installOutput).not.toMatch(/install-scripts/)
  })

  it("installs one copy of effect and of @effect/ai, the user's", () => {
    expect(copiesOf(app, "effect")).toEqual([join(app, "node_modules", "effect")])
    expect(copiesOf(app, "@effect/ai")).toEqual([join(app, "node_modules", "@effect/ai")])
    const effect = JSON.parse(readFileSync(join(app, "node_modules", "effect", "package.json"), "utf8")) as { version: string }
    expect(effect.version).toMatch(/^3\./)
  })

  it("every package the installed code and types import is a dependency or a peer dependency", () => {
    const installed = join(app, "node_modules", "effect-agents")
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as {
      name: string
      dependencies: Record<string, string>
      peerDependencies: Record<string, string>
    }
    const declared = new Set([manifest.name, ...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies)])
    // The CLI bundle (dist/bin) is left out: its imports were resolved when it was bundled.
    const files = [...filesUnder(join(installed, "dist"), ".js"), ...filesUnder(join(installed, "dist"), ".d.ts")]
      .filter((file) => !file.startsWith(join(installed, "dist", "bin")))
    const undeclared = files.flatMap((file) =>
      importedPackages(readFileSync(file, "utf8")).filter((p) => !declared.has(p)).map((p) => `${file.slice(installed.length + 1)}: ${p}`)
    )
    expect(files.length).toBeGreaterThan(50)
    expect([...new Set(undeclared)]).toEqual([])
  })

  it("a program written against the installed package type-checks and runs", { timeout: 5 * 60_000 }, async () => {
    await mustSucceed("tsc", run(app, process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"]))
    const { stdout } = await mustSucceed("node out/main.js", run(app, process.execPath, ["out/main.js"]))
    expect(JSON.parse(stdout.trim().split("\n")[0] ?? "")).toEqual({
      status: "succeeded",
      output: { headline: "Fast fibers", teaser: "Effect got quicker." },
      calls: 2
    })
  })

  it("importing the installed root loads no backend", { timeout: 60_000 }, async () => {
    const packages = await loadedPackages(app, ["effect-agents"])
    expect(packages).toContain("effect")
    expect(backendsIn(packages)).toEqual([])
  })

  it("installing effect 4 beside it fails at install, naming the conflict", { timeout: 5 * 60_000 }, async () => {
    const r = await run(app, "npm", ["install", "--dry-run", "--no-audit", "--no-fund", "--prefer-offline", "effect@^4"])
    expect(r.status).not.toBe(0)
    expect(r.output).toMatch(/npm error code ERESOLVE/)
    expect(r.output).toMatch(/npm error .*from effect-agents@/)
  })
})
