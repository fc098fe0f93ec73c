#!lua
-- A user's booking in the user's index, and its claim on the type's
-- max_active, before the booking is made (both keys in the user's hash
-- slot; the booking is in the resource's: a step of its own after this).
-- KEYS U Q
-- ARGV id score (in U) max (the type's max_active, 0: none) until (when
--      the claim ends: the booking's end, or never) then the ids of
--      claims the worker found no longer occupying (from A_STALE on)
-- -> {'ok'} | {'quota', id...} (the claims that count, for the worker to
--    check against their bookings)
--
-- The count and the claim are one atomic step, so that no two of one
-- user's requests can both take the last place.  A claim ends by itself
-- at its until; one whose booking stopped occupying sooner (cancelled,
-- declined, an expired hold) counts until the worker, refused, has read
-- it and sends it back as stale: never too few, so never over max_active.

local t = tonumber(redis.call('TIME')[1])
local max = tonumber(A_MAX)

if max > 0 then
    for i = A_STALE, #ARGV do
        redis.call('ZREM', K_Q, ARGV[i])
    end
    redis.call('ZREMRANGEBYSCORE', K_Q, '-inf', '(' .. t)
    if not redis.call('ZSCORE', K_Q, A_ID) then
        if redis.call('ZCARD', K_Q) >= max then
            local out = redis.call('ZRANGE', K_Q, 0, 255)
            table.insert(out, 1, 'quota')
            return out
        end
        redis.call('ZADD', K_Q, A_UNTIL, A_ID)
    end
end

redis.call('ZADD', K_U, A_SCORE, A_ID)
return { 'ok' }
