import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

/** The version of `name` that Ink itself loads (npm resolution from Ink's own directory). */
const versionSeenByInk = (name: string): string => {
  const fromInk = createRequire(join(process.cwd(), "node_modules", "ink", "package.json"))
  return (JSON.parse(readFileSync(fromInk.resolve(`${name}/package.json`), "utf8")) as { version: string }).version
}

describe("the dashboard's renderer", () => {
  // Ink 6 asks for ansi-tokenize ^0.2, which diffs the styles of every cell of every frame (a few
  // Sets per cell); 0.3 skips cells whose style did not change. With 1,000 runs on screen that is
  // ~40 ms of CPU per second (bench/tui-render.tsx). package.json's `overrides` gives Ink 0.3.
  it("gets ansi-tokenize 0.3 or newer through the package's overrides", () => {
    const [major, minor] = versionSeenByInk("@alcalzone/ansi-tokenize").split(".").map(Number)
    expect(major! > 0 || minor! >= 3).toBe(true)
  })
})
