/**
 * A fresh PostgreSQL database for one measurement: created on the server of an admin URL, dropped
 * (with its connections) when done, so no run of a benchmark sees another's engine tables or runs.
 * Its own queries share one connection, which is then the only one of the benchmark there.
 */
import pg from "pg"

/** A database created for the caller: its URL, a query on it, and how to drop it. */
export interface FreshDatabase {
  readonly url: string
  readonly query: <R extends object>(sql: string, params?: ReadonlyArray<unknown>) => Promise<Array<R>>
  readonly drop: () => Promise<void>
}

/** Runs one statement on the server of `adminUrl`, on a connection of its own. */
const onServer = async (adminUrl: string, statement: string): Promise<void> => {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 })
  await client.connect()
  await client.query(statement).finally(() => client.end())
}

/** Creates database `name` on the server of `adminUrl` (any database there the user may connect to). */
export const freshDatabase = async (adminUrl: string, name: string): Promise<FreshDatabase> => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`)
  await onServer(adminUrl, `CREATE DATABASE ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 })
  return {
    url: url.toString(),
    query: (sql, params = []) => pool.query(sql, [...params]).then((r) => r.rows),
    drop: () => pool.end().then(() => onServer(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  }
}
