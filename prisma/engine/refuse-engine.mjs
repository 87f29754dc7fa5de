#!/usr/bin/env node
console.error(
  "meridian: the native schema engine is not used here; run migrations with `npm run db -- <deploy|status|dev>`",
);
process.exit(1);
