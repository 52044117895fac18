/**
 * RunHistoryPostgres — the run history in PostgreSQL (`DATABASE_URL=postgres://...`).
 *
 * Same statements and migrations as the SQLite history (`internal/historySql.ts`), over
 * `@effect/sql-pg`. Useful when several machines run workflows and one dashboard or report reads
 * them all. The URL is `Redacted` end to end: it may hold a password.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect, Layer, type Redacted, type Scope } from "effect"
import { RunHistory, RunHistoryError, type RunHistoryService } from "../services/RunHistory.js"
import { makeStore, reasonOf, type StoreOptions } from "../internal/historySql.js"

/** Settings of the PostgreSQL history. */
export interface PostgresHistoryOptions extends StoreOptions {
  readonly url: Redacted.Redacted<string>
}

// The driver's messages can quote the connection string; only the reason's shape is kept.
const openFailure = (error: unknown) =>
  new RunHistoryError({ operation: "open", reason: reasonOf(error).replace(/postgres(ql)?:\/\/\S+/gi, "<redacted url>") })

/**
 * Connects, migrates and returns the history service; the pool closes with the scope. Fails with
 * `RunHistoryError` when the server cannot be reached within 5 s or refuses the login.
 */
export const make = (options: PostgresHistoryOptions): Effect.Effect<RunHistoryService, RunHistoryError, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      PgClient.layer({
        url: options.url,
        connectTimeout: Duration.seconds(5),
        maxConnections: 4,
        applicationName: "effect-agents"
      })
    ).pipe(
      Effect.catchAllDefect((defect) => Effect.fail(openFailure(defect))),
      Effect.mapError(openFailure)
    )
    return yield* Effect.gen(function*() {
      yield* SqlClient.SqlClient
      return yield* makeStore(options)
    }).pipe(Effect.provide(context))
  })

/** The history in the PostgreSQL database at `url`. */
export const layer = (url: Redacted.Redacted<string>, options: StoreOptions = {}): Layer.Layer<RunHistory, RunHistoryError> =>
  Layer.scoped(RunHistory, make({ ...options, url }))
