// The API process for the sync benchmark: one replica on DATABASE_URL, port from argv.
// Runs apart from the simulated agents so they do not share an event loop.

import { ChangeFeed } from "@meridian/api";
import { startServer } from "@meridian/api/server";
import { createPrismaClient } from "@meridian/db";

const url = process.env.DATABASE_URL!;
const db = createPrismaClient(url, { max: 20 });
const feed = new ChangeFeed(url);
await feed.start();
const server = await startServer({ db, changeFeed: feed, port: Number(process.argv[2] ?? 0) });
process.stdout.write(`${server.url}\n`);
process.on("SIGTERM", async () => {
  await server.close();
  await feed.stop();
  await db.$disconnect();
  process.exit(0);
});
