#!lua
-- A user's booking in the user's index, and its claims on the type's
-- max_active and on the quotas of nginx.conf, before the booking is made
-- (all keys in the user's hash slot; the booking is in the resource's: a
-- step of its own after this).
-- KEYS U Q W (when each claim was made) then P: one a quota's period
-- ARGV id score (in U) max (the type's max_active, 0: none) until (when
--      the claim ends: the booking's end, or never) checks (how many P)
--      then for each P: limit, amount (1, or the seconds of the booking
--      in the period), when the period's claims may go (EXPIREAT) and
--      whether it counts bookings (1: its claims are counted, HLEN, not
--      summed);
--      then the ids of claims the worker found no longer occupying
-- -> {'ok'} | {'quota', which (0: max_active, k: the k-th P), id, made
--    at, id, made at...} (the claims that count, for the worker to check
--    against their bookings: one whose booking is not there yet may be
--    on its way, if it is young)
--
-- Every count and every claim are one atomic step, so that no two of one
-- user's requests can both take the last place.  A max_active claim ends
-- by itself at its until; a period's claims all go some time after the
-- period.  One whose booking stopped occupying sooner (cancelled,
-- declined, an expired hold) counts until the worker, refused, has read it
-- and sends it back as stale: never too few, so never over a limit.

local t = tonumber(redis.call('TIME')[1])
local max = tonumber(A_MAX)
local checks = tonumber(A_CHECKS)

-- the k-th period: its key and its four arguments
local function check(k)
    local a = A_REST + 4 * (k - 1)
    return KEYS[K_P + k - 1], tonumber(ARGV[a]), tonumber(ARGV[a + 1]),
           ARGV[a + 2], ARGV[a + 3] == '1'
end

local function refuse(which, ids, at)
    local out = { 'quota', tostring(which) }
    for i, id in ipairs(ids) do
        out[#out + 1] = id
        out[#out + 1] = at[i] or '0'
    end
    return out
end

for i = A_REST + 4 * checks, #ARGV do
    if max > 0 then
        redis.call('ZREM', K_Q, ARGV[i])
        redis.call('HDEL', K_W, ARGV[i])
    end
    for k = 1, checks do
        redis.call('HDEL', (check(k)), ARGV[i])
    end
end

if max > 0 then
    local ended = redis.call('ZRANGEBYSCORE', K_Q, '-inf', '(' .. t,
                             'LIMIT', 0, 64)
    for _, id in ipairs(ended) do
        redis.call('ZREM', K_Q, id)
        redis.call('HDEL', K_W, id)
    end
    if not redis.call('ZSCORE', K_Q, A_ID)
       and redis.call('ZCARD', K_Q) >= max then
        local ids = redis.call('ZRANGE', K_Q, 0, 255)
        return refuse(0, ids, redis.call('HMGET', K_W, unpack(ids)))
    end
end

-- each period: what its claims sum to, and this one's amount on top
for k = 1, checks do
    local key, limit, amount, _, count = check(k)
    if redis.call('HEXISTS', key, A_ID) == 0 then
        local all, sum
        if count then
            sum = redis.call('HLEN', key) + 1
        else
            all = redis.call('HGETALL', key)
            sum = amount
            for i = 2, #all, 2 do
                sum = sum + (tonumber(string.match(all[i], '^%-?%d+')) or 0)
            end
        end
        if sum > limit then
            all = all or redis.call('HGETALL', key)
            -- every claim: the stale ones may be anywhere among them
            local ids, at = {}, {}
            for i = 1, #all, 2 do
                ids[#ids + 1] = all[i]
                at[#at + 1] = string.match(all[i + 1], ' (%d+)$')
            end
            return refuse(k, ids, at)
        end
    end
end

for k = 1, checks do
    local key, limit, amount, expire = check(k)
    if redis.call('HEXISTS', key, A_ID) == 0 then
        redis.call('HSET', key, A_ID, amount .. ' ' .. t)
        redis.call('EXPIREAT', key, expire)
    end
end

if max > 0 and not redis.call('ZSCORE', K_Q, A_ID) then
    redis.call('ZADD', K_Q, A_UNTIL, A_ID)
    redis.call('HSET', K_W, A_ID, t)
end

redis.call('ZADD', K_U, A_SCORE, A_ID)
return { 'ok' }
