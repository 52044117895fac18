/**
 * Reads the README's TypeScript blocks and type-checks them as a user's files would be, against the
 * package's sources (`effect-agents` → src/index.ts), in one TypeScript program.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"

/** A ```ts block of the README: where it starts, the file name it is checked under, its text. */
export interface Snippet {
  /** 1-based README line of the block's first code line. */
  readonly line: number
  readonly fileName: string
  readonly text: string
}

// A block whose first line is `// name.ts` is checked as that file, so later blocks can import it.
const namedFile = /^\/\/ ([\w.-]+\.tsx?)$/

/** The README's ```ts / ```typescript / ```tsx blocks, in order. */
export const readmeSnippets = (readme: string): ReadonlyArray<Snippet> => {
  const lines = readme.split("\n")
  const snippets: Array<Snippet> = []
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(ts|typescript|tsx)\b/.exec(lines[i] ?? "")
    if (fence === null) continue
    const end = lines.findIndex((l, j) => j > i && l.startsWith("```"))
    if (end === -1) throw new Error(`README.md:${i + 1}: code block never closed`)
    const body = lines.slice(i + 1, end)
    const name = namedFile.exec(body[0] ?? "")?.[1]
    const ext = fence[1] === "tsx" ? "tsx" : "ts"
    snippets.push({ line: i + 2, fileName: name ?? `snippet-L${i + 2}.${ext}`, text: body.join("\n") + "\n" })
    i = end
  }
  return snippets
}

/**
 * Writes the snippets into `dir` (inside the repository, so node_modules and the tsconfig's
 * `effect-agents` path apply) and returns each compiler error as `README.md:<line>: <message>`.
 */
export const typeCheckSnippets = (root: string, dir: string, snippets: ReadonlyArray<Snippet>): ReadonlyArray<string> => {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"))
    }
  })
  if (config === undefined) throw new Error("tsconfig.json could not be read")
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  try {
    const byFile = new Map<string, Snippet>()
    for (const s of snippets) {
      const path = join(dir, s.fileName)
      if (byFile.has(path)) throw new Error(`README.md:${s.line}: a second block named ${s.fileName}`)
      byFile.set(path, s)
      writeFileSync(path, s.text)
    }
    const program = ts.createProgram([...byFile.keys()], { ...config.options, noEmit: true })
    const errors: Array<string> = program.getOptionsDiagnostics().map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))
    for (const [path, snippet] of byFile) {
      const file = program.getSourceFile(path)
      if (file === undefined) throw new Error(`${path} is not in the program`)
      for (const d of [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]) {
        const line = d.start === undefined ? 0 : file.getLineAndCharacterOfPosition(d.start).line
        errors.push(`README.md:${snippet.line + line} (${snippet.fileName}): ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`)
      }
    }
    return errors
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A file's text without its leading `/** ... *\/` header comment. */
export const withoutHeader = (text: string): string => text.replace(/^\/\*\*[\s\S]*?\*\/\n/, "")

/** Reads a file relative to the repository root. */
export const readText = (root: string, path: string): string => readFileSync(join(root, path), "utf8")
