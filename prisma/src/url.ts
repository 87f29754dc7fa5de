// Where the database is: DATABASE_URL, or the embedded one that `npm start` runs under .meridian/.
export const EMBEDDED_PORT = Number(process.env.MERIDIAN_EMBEDDED_DB_PORT ?? 5488);
export const embeddedDatabaseUrl = `postgresql://postgres:postgres@127.0.0.1:${EMBEDDED_PORT}/postgres?sslmode=disable`;

export function databaseUrlFromEnv(): string {
  return process.env.DATABASE_URL || embeddedDatabaseUrl;
}

/** The same server and credentials, another database. */
export function withDatabase(connectionString: string, database: string): string {
  const u = new URL(connectionString);
  u.pathname = `/${database}`;
  return u.toString();
}
