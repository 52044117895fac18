// Bundles the provider packages the library uses (@effect/ai-openrouter, @effect/ai-google) into
// dist/internal/, replacing tsc's output of the two modules that re-export them. Their peer ranges
// stop before the @effect/ai we build on, so as dependencies they would make every install warn
// (ERESOLVE) or pull in a second copy of Effect; bundled, their code imports effect and @effect/*
// from the user's install, the same copies the rest of the library uses. Runs after `tsc` in
// `npm run build`. Their type declarations are not needed: no public type mentions them.
import { build } from "esbuild"
import { readFileSync, rmSync } from "node:fs"
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)

/** The package's MIT notice, which must travel with its code. */
const notice = (name) => {
  const dir = require.resolve(`${name}/package.json`).replace(/package\.json$/, "")
  const { version } = JSON.parse(readFileSync(`${dir}package.json`, "utf8"))
  const license = readFileSync(`${dir}LICENSE`, "utf8").trim()
  return `/*! Bundled: ${name}@${version}\n${license}\n*/`
}

const vendored = [
  { module: "openRouterPackage", pkg: "@effect/ai-openrouter" },
  { module: "googlePackage", pkg: "@effect/ai-google" }
]

for (const { module, pkg } of vendored) {
  await build({
    entryPoints: [`src/internal/${module}.ts`],
    outfile: `dist/internal/${module}.js`,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // The user's Effect: shared with the rest of the library, never bundled.
    external: ["effect", "effect/*", "@effect/ai", "@effect/ai/*", "@effect/platform", "@effect/platform/*", "@effect/experimental", "@effect/experimental/*"],
    sourcemap: true,
    sourcesContent: true,
    legalComments: "none",
    banner: { js: notice(pkg) },
    allowOverwrite: true,
    logLevel: "warning"
  })
  rmSync(`dist/internal/${module}.d.ts`, { force: true })
  rmSync(`dist/internal/${module}.d.ts.map`, { force: true })
}
