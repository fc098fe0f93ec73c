#!lua
-- A user's bookings in the user's index, and their claims on their
-- types' max_active and on the quotas of nginx.conf, before the bookings
-- are made (all keys in the user's hash slot; the bookings are in their
-- resources': a step of its own after this).  One booking, or every
-- occurrence of a series: all are claimed or none.
-- KEYS U then for each claim Q W (its type's claims, when each was made)
--      then P: one a quota's period
-- ARGV checks (how many P) claims (how many bookings) then for each
--      claim: id, score (in U), until (when its max_active claim ends:
--      the booking's end, or never), max (its type's max_active, 0:
--      none); then for each P: the claim it is of, limit, amount (1, or
--      the seconds of the booking in the period), when the period's
--      claims may go (EXPIREAT) and whether it counts bookings (1: its
--      claims are counted, HLEN, not summed);
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
local checks = tonumber(A_CHECKS)
local claims = tonumber(A_CLAIMS)
local first_check = A_REST + 4 * claims

-- the i-th claim: id, score, until, max, its Q and W
local function claim(i)
    local a = A_REST + 4 * (i - 1)
    return ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]),
           KEYS[K_Q + 2 * (i - 1)], KEYS[K_Q + 2 * i - 1]
end

-- the k-th period: its key, its claim's id and its four arguments
local function check(k)
    local a = first_check + 5 * (k - 1)
    return KEYS[K_Q + 2 * claims + k - 1], (claim(tonumber(ARGV[a]))),
           tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), ARGV[a + 3],
           ARGV[a + 4] == '1'
end

local function refuse(which, ids, at)
    local out = { 'quota', tostring(which) }
    for i, id in ipairs(ids) do
        out[#out + 1] = id
        out[#out + 1] = at[i] or '0'
    end
    return out
end

-- the distinct Q of the claims with max_active, W with each
local counted, w_of = {}, {}
for i = 1, claims do
    local _, _, _, max, q, w = claim(i)
    if max > 0 and not w_of[q] then
        counted[#counted + 1] = q
        w_of[q] = w
    end
end

for i = first_check + 5 * checks, #ARGV do
    for _, q in ipairs(counted) do
        redis.call('ZREM', q, ARGV[i])
        redis.call('HDEL', w_of[q], ARGV[i])
    end
    for k = 1, checks do
        redis.call('HDEL', (check(k)), ARGV[i])
    end
end

for _, q in ipairs(counted) do
    local ended = redis.call('ZRANGEBYSCORE', q, '-inf', '(' .. t,
                             'LIMIT', 0, 64)
    for _, id in ipairs(ended) do
        redis.call('ZREM', q, id)
        redis.call('HDEL', w_of[q], id)
    end
end

-- each type's count, with this request's new claims on top
local more = {}
for i = 1, claims do
    local id, _, _, max, q, w = claim(i)
    if max > 0 and not redis.call('ZSCORE', q, id) then
        more[q] = (more[q] or redis.call('ZCARD', q)) + 1
        if more[q] > max then
            local ids = redis.call('ZRANGE', q, 0, 255)
            return refuse(0, ids, #ids > 0 and redis.call('HMGET', w,
                                                           unpack(ids))
                                 or {})
        end
    end
end

-- each period: what its claims sum to, and this request's on top
local sums = {}
for k = 1, checks do
    local key, id, limit, amount, _, count = check(k)
    if redis.call('HEXISTS', key, id) == 0 then
        local sum = sums[key]
        if not sum then
            sum = 0
            if count then
                sum = redis.call('HLEN', key)
            else
                local all = redis.call('HGETALL', key)
                for i = 2, #all, 2 do
                    sum = sum + (tonumber(string.match(all[i], '^%-?%d+'))
                                 or 0)
                end
            end
        end
        sums[key] = sum + amount
        if sums[key] > limit then
            -- every claim: the stale ones may be anywhere among them
            local all = redis.call('HGETALL', key)
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
    local key, id, _, amount, expire = check(k)
    if redis.call('HEXISTS', key, id) == 0 then
        redis.call('HSET', key, id, amount .. ' ' .. t)
        redis.call('EXPIREAT', key, expire)
    end
end

for i = 1, claims do
    local id, score, ends, max, q, w = claim(i)
    if max > 0 and not redis.call('ZSCORE', q, id) then
        redis.call('ZADD', q, ends, id)
        redis.call('HSET', w, id, t)
    end
    redis.call('ZADD', K_U, score, id)
end

return { 'ok' }
