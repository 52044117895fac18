/**
 * The docs a user copies from work: every TypeScript block of the README compiles as shown, the
 * examples it names ship in the package, and nothing shipped points at a file that does not ship
 * (source maps carry their sources, so a stack trace in a user's install can be read).
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { describe, expect, it } from "vitest"
import { readText, readmeSnippets, typeCheckSnippets, withoutHeader } from "./support/readmeSnippets.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const snippets = readmeSnippets(readText(root, "README.md"))

/** What `npm pack` would put in the tarball (scripts skipped: the CLI bundle is built by globalSetup). */
let packed: ReadonlyArray<string> | undefined
const packedFiles = (): ReadonlyArray<string> => {
  if (packed !== undefined) return packed
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" })
  const [pack] = JSON.parse(out) as ReadonlyArray<{ readonly files: ReadonlyArray<{ readonly path: string }> }>
  packed = (pack?.files ?? []).map((f) => f.path)
  return packed
}

/** Why a source map cannot be read without files that do not ship, if it cannot. */
const mapProblem = (text: string): string | undefined => {
  const map = JSON.parse(text) as { sources: ReadonlyArray<string>; sourcesContent?: ReadonlyArray<string | null> }
  const missing = map.sources.filter((_, i) => typeof map.sourcesContent?.[i] !== "string")
  return missing.length === 0 ? undefined : `no sourcesContent for ${missing.slice(0, 3).join(", ")}`
}

describe("README snippets", () => {
  it("every TypeScript block compiles as shown, imports included", () => {
    expect(snippets.map((s) => s.fileName)).toEqual(expect.arrayContaining(["headline.ts", "main.ts", "headline.test.ts"]))
    expect(typeCheckSnippets(root, join(root, `.readme-snippets-${process.pid}`), snippets)).toEqual([])
  })

  it("a block that does not compile is reported at its README line", () => {
    const broken = readmeSnippets(["# t", "", "```ts", "// a.ts", "export const n: number = 1", "", "```", "", "```ts",
      "import { n } from \"./a.js\"", "export const s: string = n", "```"].join("\n"))
    const errors = typeCheckSnippets(root, join(root, `.readme-snippets-${process.pid}-broken`), broken)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^README\.md:11 \(snippet-L10\.ts\): Type 'number' is not assignable to type 'string'/)
  })

  it("the library example's blocks are the files in examples/, which ship in the package", () => {
    const files = packedFiles()
    for (const name of ["headline.ts", "main.ts"]) {
      const block = snippets.find((s) => s.fileName === name)
      expect(block?.text).toBe(`// ${name}\n${withoutHeader(readText(root, `examples/${name}`))}`)
      expect(files).toContain(`examples/${name}`)
    }
  })
})

describe("the packed package", () => {
  it("ships only the build, the bin, the examples, the README, .env.example and package.json", () => {
    const files = packedFiles()
    const allowed = /^(dist\/|bin\/|examples\/|README\.md$|\.env\.example$|package\.json$)/
    expect(files.filter((f) => !allowed.test(f))).toEqual([])
    expect(files).toContain("dist/bin/main.js")
  })

  it("no shipped file refers to a file that does not ship; every source map carries its sources", () => {
    const files = packedFiles()
    const shipped = new Set(files)
    const problems: Array<string> = []
    for (const path of files) {
      const text = readText(root, path)
      if (text.includes("DESIGN.md")) problems.push(`${path} cites DESIGN.md`)
      const mapUrl = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1]
      if (mapUrl !== undefined && !mapUrl.startsWith("data:") && !shipped.has(join(path, "..", mapUrl))) {
        problems.push(`${path} points at ${mapUrl}, which does not ship`)
      }
      const mapIssue = path.endsWith(".map") ? mapProblem(text) : undefined
      if (mapIssue !== undefined) problems.push(`${path}: ${mapIssue}`)
    }
    expect(files.some((f) => f.endsWith(".map"))).toBe(true)
    expect(problems).toEqual([])
  })

  it("the library build (tsconfig.build.json) writes source maps that carry the sources", () => {
    const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.build.json"), {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => undefined
    })
    const fileName = join(root, "src/index.ts")
    const out = ts.transpileModule(readFileSync(fileName, "utf8"), { compilerOptions: config?.options ?? {}, fileName })
    expect(out.sourceMapText).toBeDefined()
    expect(mapProblem(out.sourceMapText ?? "{}")).toBeUndefined()
    // A build already in dist/ (npm run build) is checked as it is.
    const built = join(root, "dist/index.js.map")
    if (existsSync(built)) expect(mapProblem(readFileSync(built, "utf8"))).toBeUndefined()
  })
})
