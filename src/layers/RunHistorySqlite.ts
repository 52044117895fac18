/**
 * RunHistorySqlite — the run history in a SQLite file (`<DATA_DIR>/history.sqlite` by default).
 *
 * Unlike the LLM cache, the history goes through `@effect/sql` (`@effect/sql-sqlite-node`): its
 * writes arrive in batches from the recorder, not on a latency-critical path, and the same
 * statements and `Migrator` migrations then serve PostgreSQL. The file is in WAL mode with
 * `synchronous = NORMAL`: a commit survives the process being killed (only an OS crash can lose
 * the last transactions), and readers (`effect-agents history` in another terminal) never block
 * the writer. Another process holding the write lock for more than `busyTimeoutMs` makes writes
 * fail with SQLITE_BUSY rather than freeze this process; the recorder retries them.
 */
import { dirname, join } from "node:path"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, type Scope } from "effect"
import * as Directory from "../internal/directory.js"
import { AppConfig } from "../services/AppConfig.js"
import { RunHistory, RunHistoryError, type RunHistoryService } from "../services/RunHistory.js"
import { makeStore, reasonOf, type StoreOptions } from "../internal/historySql.js"

/** Settings of the SQLite history. */
export interface SqliteHistoryOptions extends StoreOptions {
  /** The database file (its directory is created), or `:memory:` for a history that is not kept. */
  readonly filename: string
}

/** How long a statement waits for another process's lock on the file before SQLITE_BUSY. */
export const busyTimeoutMs = 250

/** The file name of the history inside `DATA_DIR`. */
export const fileName = "history.sqlite"

const openFailure = (error: unknown) => new RunHistoryError({ operation: "open", reason: reasonOf(error), cause: error })

/**
 * Opens (creating and migrating as needed) the history file; it is closed with the scope. Fails
 * with `RunHistoryError` when the file cannot be opened (unwritable directory, not a database).
 */
export const make = (options: SqliteHistoryOptions): Effect.Effect<RunHistoryService, RunHistoryError, Scope.Scope> =>
  Effect.gen(function*() {
    if (options.filename !== ":memory:") {
      yield* Effect.try({
        try: () => Directory.ensure(dirname(options.filename)),
        catch: openFailure
      })
    }
    // The driver throws from its constructor on a bad file; those arrive here as defects.
    const context = yield* Layer.build(SqliteClient.layer({ filename: options.filename })).pipe(
      Effect.catchAllDefect((defect) => Effect.fail(openFailure(defect))),
      Effect.mapError(openFailure)
    )
    return yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`PRAGMA synchronous = NORMAL`.pipe(Effect.mapError(openFailure))
      // The driver is synchronous: its default 5 s busy wait would freeze the whole process while
      // another one holds the file. A short wait absorbs ordinary contention; a longer lock fails
      // with SQLITE_BUSY, and the recorder keeps the events and retries.
      yield* sql`PRAGMA busy_timeout = ${sql.literal(String(busyTimeoutMs))}`.pipe(Effect.mapError(openFailure))
      return yield* makeStore(options)
    }).pipe(Effect.provide(context))
  })

/** The history in `filename` (see `make`). */
export const layerFile = (filename: string, options: StoreOptions = {}): Layer.Layer<RunHistory, RunHistoryError> =>
  Layer.scoped(RunHistory, make({ ...options, filename }))

/** A history held in memory for the lifetime of the layer: for tests and throwaway runs. */
export const layerMemory: Layer.Layer<RunHistory, RunHistoryError> = layerFile(":memory:")

/** The history at `<DATA_DIR>/history.sqlite`. */
export const layer: Layer.Layer<RunHistory, RunHistoryError, AppConfig> = Layer.scoped(
  RunHistory,
  Effect.flatMap(AppConfig, (config) => make({ filename: join(config.dataDir, fileName) }))
)
