// Runs a TypeScript worker module (process.argv[2], a file URL) from the sources, for tests and
// `tsx` scripts: Node 20 applies no loader given in a worker's execArgv to the worker's entry
// module, so this plain one imports it through tsx. Never used from dist/ or the CLI bundle, which
// start the compiled module directly (tsx is a devDependency).
import { tsImport } from "tsx/esm/api"

await tsImport(process.argv[2], import.meta.url)
