/**
 * RunHistoryFromConfig — picks where the run history lives from `AppConfig`.
 *
 * `DATABASE_URL` unset (or `sqlite:` with no path) keeps it in `<DATA_DIR>/history.sqlite`;
 * `sqlite:PATH` (also `sqlite://PATH`, `sqlite:///ABS/PATH`, `sqlite::memory:`) chooses the file,
 * relative paths from the working directory. `postgres://` / `postgresql://` URLs use
 * PostgreSQL (`RunHistoryPostgres`). An explicit database that cannot be used fails the layer rather than silently writing the
 * history somewhere the user did not ask for.
 */
import { join } from "node:path"
import { Effect, Either, Layer, Option, Redacted } from "effect"
import { AppConfig } from "../services/AppConfig.js"
import { RunHistory, RunHistoryError } from "../services/RunHistory.js"
import * as RunHistoryPostgres from "./RunHistoryPostgres.js"
import * as RunHistorySqlite from "./RunHistorySqlite.js"

/** Where the history lives, as decided from `DATABASE_URL` and `DATA_DIR`. */
export type HistoryTarget =
  | { readonly _tag: "Sqlite"; readonly filename: string }
  | { readonly _tag: "Postgres" }

/**
 * Decodes `DATABASE_URL` into a target; an unsupported scheme is a `Left` with the reason. The
 * URL itself never appears in the reason (it may hold a password).
 */
export const targetOf = (databaseUrl: Option.Option<string>, dataDir: string): Either.Either<HistoryTarget, string> => {
  const defaultFile: HistoryTarget = { _tag: "Sqlite", filename: join(dataDir, RunHistorySqlite.fileName) }
  if (Option.isNone(databaseUrl)) return Either.right(defaultFile)
  const url = databaseUrl.value.trim()
  const lower = url.toLowerCase()
  if (lower.startsWith("sqlite:")) {
    let path = url.slice("sqlite:".length)
    // sqlite://relative and sqlite:///absolute, as SQLAlchemy and friends write them.
    if (path.startsWith("//")) path = path.slice(2)
    return Either.right(path === "" ? defaultFile : { _tag: "Sqlite", filename: path })
  }
  if (lower.startsWith("postgres://") || lower.startsWith("postgresql://")) return Either.right({ _tag: "Postgres" })
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]
  return Either.left(
    `DATABASE_URL must be a sqlite: or postgres:// URL${scheme === undefined ? "" : ` (got scheme "${scheme}:")`}`
  )
}

/** The run history `AppConfig` asks for. Fails when that database cannot be opened. */
export const layer: Layer.Layer<RunHistory, RunHistoryError, AppConfig> = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => {
    const target = targetOf(Option.map(config.databaseUrl, Redacted.value), config.dataDir)
    if (Either.isLeft(target)) {
      return Layer.fail(new RunHistoryError({ operation: "open", reason: target.left }))
    }
    switch (target.right._tag) {
      case "Sqlite":
        return RunHistorySqlite.layerFile(target.right.filename)
      case "Postgres":
        return RunHistoryPostgres.layer(Option.getOrThrow(config.databaseUrl))
    }
  })
)
