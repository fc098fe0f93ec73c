#!lua flags=allow-oom
-- A resource in its type's listing indexes, or out of them
-- KEYS T G
-- ARGV op ("add" or "del") rid lat lon ("" without a location)
-- -> {'ok'}
--
-- A step of its own after resource_put or resource_delete: the indexes
-- have the type's hash tag, not the resource's.  Both ways are idempotent,
-- so a step sent again, or late, leaves what one would.  allow-oom: taking
-- an entry out must work when Redis is full, and an entry is small.

if A_OP == 'del' then
    redis.call('ZREM', K_T, A_RID)
    redis.call('ZREM', K_G, A_RID)
    return { 'ok' }
end

redis.call('ZADD', K_T, 0, A_RID)
if A_LAT ~= '' then
    redis.call('GEOADD', K_G, A_LON, A_LAT, A_RID)
else
    redis.call('ZREM', K_G, A_RID)
end

return { 'ok' }
