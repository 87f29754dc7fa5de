-- Identity numbers below 256 are reserved (host, world, health, … as in Cilium), so the
-- first allocated identity is 256. Prisma does not model sequence start values.
SELECT setval(pg_get_serial_sequence('"Identity"', 'number'), 255, true);
