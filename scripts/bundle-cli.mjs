// Bundles the CLI (src/main.ts) into dist/cli/ so it starts fast: loading Effect's hundreds of ES
// modules one by one costs ~0.8 s on this machine, a bundle ~0.3 s (the `--help` budget is 0.5 s).
// Heavy, rarely needed parts (TUI, OpenTelemetry) stay behind dynamic imports, i.e. separate chunks.
// Native or asset-loading packages stay external and resolve from node_modules.
import { build } from "esbuild"
import { readFileSync, renameSync, rmSync } from "node:fs"

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))

/**
 * Ink's `DEV=true` mode (React devtools, and a read of Ink's package.json beside its own file)
 * cannot work from a bundle: a user's `DEV=true` would stop the dashboard. The bundled Ink never
 * enters it; the build fails if Ink's switch is no longer where this expects it.
 */
const inkWithoutDevMode = {
  name: "ink-without-dev-mode",
  setup(build) {
    build.onLoad({ filter: /[\\/]ink[\\/]build[\\/]utils\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8")
      const devSwitch = "const isDev = () => process.env['DEV'] === 'true';"
      if (!source.includes(devSwitch)) throw new Error(`${args.path}: Ink's DEV switch changed; update scripts/bundle-cli.mjs`)
      return { contents: source.replace(devSwitch, "const isDev = () => false;"), loader: "js" }
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
  plugins: [inkWithoutDevMode],
  external: ["better-sqlite3", "react", "react/*", "yoga-layout", "ink-testing-library", "react-devtools-core"],
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
})

rmSync("dist/bin", { recursive: true, force: true })
renameSync(staging, "dist/bin")
