/**
 * Loading a user's workflows module (`--workflows ./my-workflows.js`, `WORKFLOWS_MODULE`): an ES
 * module whose exports are workflows — a default export that is a workflow or an array of them,
 * and any named export that is a workflow (other exports are ignored). The path is taken from the
 * working directory.
 *
 * The module's `import "effect-agents"` must reach the very modules this CLI runs on: the run
 * scope of a workflow travels in a FiberRef that the LLM layer reads, and a second copy of the
 * library would have its own. `bin/effect-agents.js` therefore starts the unbundled CLI (the
 * package's `dist/`, which the module's import resolves to) whenever a module is asked for; the
 * bundled CLI refuses one rather than run it on a copy (`refuseInBundle`).
 */
import { existsSync, statSync } from "node:fs"
import { extname, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { Effect, Either } from "effect"
import { isRegistryEntry, type RegistryEntry } from "../agents/registry.js"
import { UsageError } from "./CliError.js"

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const typeScriptHint = (path: string): string =>
  [".ts", ".mts", ".cts", ".tsx"].includes(extname(path))
    ? " (Node cannot import TypeScript as is: compile it to JavaScript, or run the CLI with a loader, e.g. NODE_OPTIONS=\"--import tsx\" in a \"type\": \"module\" project)"
    : ""

/** The workflows among a module's exports, default export first; `Left` with why when none. */
export const workflowsOf = (exports: Readonly<Record<string, unknown>>): Either.Either<ReadonlyArray<RegistryEntry>, string> => {
  const found: Array<RegistryEntry> = []
  const add = (value: RegistryEntry) => {
    if (!found.includes(value)) found.push(value)
  }
  const fallback = exports["default"]
  if (Array.isArray(fallback)) {
    for (const [index, value] of fallback.entries()) {
      if (!isRegistryEntry(value)) return Either.left(`its default export's item ${index} is not a workflow (made with Workflow.make)`)
      add(value)
    }
  } else if (fallback !== undefined && isRegistryEntry(fallback)) {
    add(fallback)
  }
  for (const [key, value] of Object.entries(exports)) {
    if (key !== "default" && isRegistryEntry(value)) add(value)
  }
  return found.length > 0
    ? Either.right(found)
    : Either.left("it exports no workflow (export workflows made with Workflow.make by name, or a default array of them)")
}

/**
 * Imports the module at `specifier` (a path, relative to `cwd`, or a `file:` URL) and returns its
 * workflows. Fails with `UsageError` (exit 2) when the file is missing, does not load, or exports
 * no workflow.
 */
export const load = (specifier: string, cwd: string): Effect.Effect<ReadonlyArray<RegistryEntry>, UsageError> =>
  Effect.gen(function*() {
    const fail = (why: string) => new UsageError({ message: `workflows module ${specifier}: ${why}` })
    const url = specifier.startsWith("file:") ? new URL(specifier) : pathToFileURL(resolve(cwd, specifier))
    if (!existsSync(url)) return yield* fail("no such file")
    if (!statSync(url).isFile()) return yield* fail("not a file")
    const exports = yield* Effect.tryPromise({
      try: () => import(url.href) as Promise<Readonly<Record<string, unknown>>>,
      catch: (error) => fail(`cannot be loaded: ${messageOf(error)}${typeScriptHint(url.pathname)}`)
    })
    return yield* Either.mapLeft(workflowsOf(exports), fail)
  })

declare const __BUNDLED__: boolean | undefined

/**
 * The bundled CLI (`dist/bin/main.js`) carries its own copy of the library, so a module's
 * workflows would run on two copies: refused, with what to do instead. The `effect-agents` command
 * routes around it.
 */
export const refuseInBundle = (specifier: string): Effect.Effect<void, UsageError> =>
  typeof __BUNDLED__ === "boolean" && __BUNDLED__
    ? Effect.fail(
      new UsageError({
        message: `workflows module ${specifier}: this bundled CLI runs its own copy of effect-agents; ` +
          "start it as `effect-agents` (bin/effect-agents.js), which loads the copy your module imports"
      })
    )
    : Effect.void
