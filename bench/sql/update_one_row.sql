-- pgbench script: one transaction updating one random row of a 100,000-row table.
\set aid random(1, 100000)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
