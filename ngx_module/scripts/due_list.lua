#!lua flags=no-writes
-- The resources of one shard with a hold due by Redis's clock
-- KEYS D
-- ARGV limit
-- -> [rid...]
--
-- Redis's clock, not the worker's: holds expire by it.

local t = redis.call('TIME')

return redis.call('ZRANGEBYSCORE', K_D, '-inf', t[1], 'LIMIT', 0, A_LIMIT)
