/**
 * The directories effect-agents writes to (`LOG_DIR`, `DATA_DIR`), made and checked safely.
 *
 * Node 20's `mkdirSync(path, { recursive: true })` never returns for some paths: under `/proc` the
 * kernel answers ENOENT for a level whose parent exists, and Node retries forever. Being
 * synchronous, it also blocks the event loop, so not even SIGTERM is handled. Here each missing
 * level is made with a plain `mkdir`, anything unexpected stops with its reason, and the result must
 * be a directory this process may write to.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Data } from "effect"

/** `path` cannot be used as a directory to write to; `reason` says why, for a person. */
export class UnusableDirectory extends Data.TaggedError("UnusableDirectory")<{
  readonly path: string
  readonly reason: string
}> {
  override get message(): string {
    return `${this.path} is not a usable directory (${this.reason})`
  }
}

/** `ENOENT: no such file or directory` from Node's `ENOENT: no such file or directory, mkdir '/x'`. */
const describe = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error)
  return error.message.replace(/, \w+ '.*'$/s, "")
}

const codeOf = (error: unknown): string | undefined =>
  error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined

/** The levels of `absolute` that do not exist yet, innermost first; fails on a file in the way. */
const missingLevels = (dir: string, absolute: string): Array<string> => {
  const missing: Array<string> = []
  let current = absolute
  // One step per path component: the loop ends at the first level that exists (at worst the root).
  for (;;) {
    let stat: fs.Stats | undefined
    try {
      stat = fs.statSync(current)
    } catch (error) {
      const code = codeOf(error)
      // ENOTDIR: a level above is a file; walking up finds it and reports it by name.
      if (code !== "ENOENT" && code !== "ENOTDIR") {
        throw new UnusableDirectory({ path: dir, reason: `cannot inspect ${current}: ${describe(error)}` })
      }
    }
    if (stat !== undefined) {
      if (!stat.isDirectory()) throw new UnusableDirectory({ path: dir, reason: `${current} exists and is not a directory` })
      return missing
    }
    missing.push(current)
    const parent = path.dirname(current)
    if (parent === current) throw new UnusableDirectory({ path: dir, reason: `${current} does not exist` })
    current = parent
  }
}

/**
 * Makes `dir` (and its missing parents, one `mkdir` each) and checks that it is a directory this
 * process can write to. Returns the directories it created, outermost first. Throws
 * `UnusableDirectory` otherwise; it never loops and never waits.
 */
export const ensure = (dir: string, options: { readonly mode?: number } = {}): ReadonlyArray<string> => {
  const absolute = path.resolve(dir)
  const created: Array<string> = []
  for (const level of missingLevels(dir, absolute).reverse()) {
    try {
      fs.mkdirSync(level, options.mode === undefined ? undefined : { mode: options.mode })
      created.push(level)
    } catch (error) {
      // Made by someone else meanwhile: fine, as long as it is a directory.
      const raced = codeOf(error) === "EEXIST" && fs.statSync(level, { throwIfNoEntry: false })?.isDirectory() === true
      if (!raced) throw new UnusableDirectory({ path: dir, reason: `cannot create ${level}: ${describe(error)}` })
    }
  }
  try {
    fs.accessSync(absolute, fs.constants.W_OK | fs.constants.X_OK)
  } catch (error) {
    throw new UnusableDirectory({ path: dir, reason: `cannot write to it: ${describe(error)}` })
  }
  return created
}

/**
 * Checks that `ensure(dir)` would succeed, leaving the file system as it was: whatever it had to
 * create is removed again. Throws `UnusableDirectory` like `ensure`.
 */
export const check = (dir: string): void => {
  const created = ensure(dir)
  for (const level of [...created].reverse()) {
    try {
      fs.rmdirSync(level)
    } catch {
      // Something was put there meanwhile: then it is in use, and stays.
    }
  }
}
