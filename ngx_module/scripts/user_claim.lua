#!lua
-- A user's booking in the user's index, and its claim on the type's
-- max_active, before the booking is made (both keys in the user's hash
-- slot; the booking is in the resource's: a step of its own after this).
-- KEYS U Q W (when each claim was made)
-- ARGV id score (in U) max (the type's max_active, 0: none) until (when
--      the claim ends: the booking's end, or never) then the ids of
--      claims the worker found no longer occupying (from A_STALE on)
-- -> {'ok'} | {'quota', id, made at, id, made at...} (the claims that
--    count, for the worker to check against their bookings: one whose
--    booking is not there yet may be on its way, if it is young)
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
        redis.call('HDEL', K_W, ARGV[i])
    end
    local ended = redis.call('ZRANGEBYSCORE', K_Q, '-inf', '(' .. t,
                             'LIMIT', 0, 64)
    for _, id in ipairs(ended) do
        redis.call('ZREM', K_Q, id)
        redis.call('HDEL', K_W, id)
    end
    if not redis.call('ZSCORE', K_Q, A_ID) then
        if redis.call('ZCARD', K_Q) >= max then
            local ids = redis.call('ZRANGE', K_Q, 0, 255)
            local at = redis.call('HMGET', K_W, unpack(ids))
            local out = { 'quota' }
            for i, id in ipairs(ids) do
                out[#out + 1] = id
                out[#out + 1] = at[i] or '0'
            end
            return out
        end
        redis.call('ZADD', K_Q, A_UNTIL, A_ID)
        redis.call('HSET', K_W, A_ID, t)
    end
end

redis.call('ZADD', K_U, A_SCORE, A_ID)
return { 'ok' }
