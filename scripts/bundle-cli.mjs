// Bundles the CLI (src/main.ts) into dist/cli/ so it starts fast: loading Effect's hundreds of ES
// modules one by one costs ~0.8 s on this machine, a bundle ~0.3 s (the `--help` budget is 0.5 s).
// Heavy, rarely needed parts (TUI, OpenTelemetry) stay behind dynamic imports, i.e. separate chunks.
// Native or asset-loading packages stay external and resolve from node_modules.
import { build } from "esbuild"
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))

/** Whether a dependency's source map can show its sources: each is inlined or ships beside it. */
const mapComplete = (file, source) => {
  const url = /\n\/\/# sourceMappingURL=(\S+)\s*$/.exec(source)?.[1]
  if (url === undefined || url.startsWith("data:")) return true
  const mapPath = join(dirname(file), url)
  if (!existsSync(mapPath)) return false
  const map = JSON.parse(readFileSync(mapPath, "utf8"))
  const root = join(dirname(mapPath), map.sourceRoot ?? "")
  return map.sources.every((s, i) => typeof map.sourcesContent?.[i] === "string" || existsSync(join(root, s)))
}

/**
 * Dependencies as bundled. A dependency whose source maps point at sources it does not ship (Ink,
 * its ANSI tokenizer) is mapped to its JavaScript instead, which our maps then carry. Ink's
 * `DEV=true` mode (React devtools, and a read of Ink's package.json beside its own file) cannot work
 * from a bundle: a user's `DEV=true` would stop the dashboard, so the bundled Ink never enters it
 * (the build fails if Ink's switch is no longer where this expects it).
 */
const bundledDependencies = {
  name: "bundled-dependencies",
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.[cm]?js$/ }, (args) => {
      let source = readFileSync(args.path, "utf8")
      const inkSwitch = /[\\/]node_modules[\\/]ink[\\/]build[\\/]utils\.js$/.test(args.path)
      if (!inkSwitch && mapComplete(args.path, source)) return undefined
      source = source.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n")
      if (inkSwitch) {
        const devSwitch = "const isDev = () => process.env['DEV'] === 'true';"
        if (!source.includes(devSwitch)) throw new Error(`${args.path}: Ink's DEV switch changed; update scripts/bundle-cli.mjs`)
        source = source.replace(devSwitch, "const isDev = () => false;")
      }
      return { contents: source, loader: "js" }
    })
  }
}

// Built aside and swapped in, so a CLI started meanwhile (a parallel test run) never sees a half
// build; chunk names are content hashes, so the old directory is removed rather than merged.
const staging = `dist/bin.${process.pid}`

await build({
  // The SQLite cache's writer thread loads its module from next to the code that starts it (a
  // chunk in this directory): an entry point of its own, under its source name.
  entryPoints: { main: "src/main.ts", sqliteCacheWorker: "src/internal/sqliteCacheWorker.ts" },
  outdir: staging,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // The maps carry the sources (src/ does not ship), so a stack trace in a user's install can be read.
  sourcemap: true,
  sourcesContent: true,
  legalComments: "none",
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning",
  jsx: "automatic",
  define: { __VERSION__: JSON.stringify(version), __BUNDLED__: "true" },
  // Ink is bundled (with the ANSI tokenizer package.json's `overrides` picks for it, which an
  // install as a dependency would not get: it makes a dashboard frame ~30 % cheaper); React stays
  // external, one copy shared with the reconciler.
  plugins: [bundledDependencies],
  external: ["better-sqlite3", "react", "react/*", "yoga-layout", "ink-testing-library", "react-devtools-core"],
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
})

rmSync("dist/bin", { recursive: true, force: true })
renameSync(staging, "dist/bin")
