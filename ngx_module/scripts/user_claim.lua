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

-- the distinct Q of the claims with max_active: W, max_active and the
-- ids of each
local counted, w_of, max_of, ids_of = {}, {}, {}, {}
for i = 1, claims do
    local id, _, _, max, q, w = claim(i)
    if max > 0 then
        if not w_of[q] then
            counted[#counted + 1] = q
            w_of[q], max_of[q], ids_of[q] = w, max, {}
        end
        local ids = ids_of[q]
        ids[#ids + 1] = id
    end
end

-- the stale claims out of every key they may be in, one call a key
local stale = { unpack(ARGV, first_check + 5 * checks) }
if #stale > 0 then
    local seen = {}
    for _, q in ipairs(counted) do
        redis.call('ZREM', q, unpack(stale))
        redis.call('HDEL', w_of[q], unpack(stale))
    end
    for k = 1, checks do
        local key = check(k)
        if not seen[key] then
            seen[key] = true
            redis.call('HDEL', key, unpack(stale))
        end
    end
end

for _, q in ipairs(counted) do
    local ended = redis.call('ZRANGEBYSCORE', q, '-inf', '(' .. t,
                             'LIMIT', 0, 64)
    if #ended > 0 then
        redis.call('ZREM', q, unpack(ended))
        redis.call('HDEL', w_of[q], unpack(ended))
    end
end

-- each type's count, with this request's new claims on top (a claim
-- already there, sent again, counts once)
local new_of = {}
for _, q in ipairs(counted) do
    local ids = ids_of[q]
    local there = redis.call('ZMSCORE', q, unpack(ids))
    local new = {}
    for j, id in ipairs(ids) do
        if not there[j] then
            new[#new + 1] = id
        end
    end
    if #new > 0 and redis.call('ZCARD', q) + #new > max_of[q] then
        local held = redis.call('ZRANGE', q, 0, 255)
        return refuse(0, held, #held > 0 and redis.call('HMGET', w_of[q],
                                                        unpack(held))
                               or {})
    end
    new_of[q] = {}
    for _, id in ipairs(new) do
        new_of[q][id] = true
    end
end

-- each period: what its claims sum to, and this request's on top; the
-- ids are this request's own, never there yet (all of a request's
-- claims are written at once, or none)
local sums, adds, keys = {}, {}, {}
for k = 1, checks do
    local key, id, limit, amount, expire, count = check(k)
    local sum = sums[key]
    if not sum then
        sum = 0
        if count then
            sum = redis.call('HLEN', key)
        else
            local all = redis.call('HGETALL', key)
            for i = 2, #all, 2 do
                sum = sum + (tonumber(string.match(all[i], '^%-?%d+')) or 0)
            end
        end
        keys[#keys + 1] = key
        adds[key] = { expire = expire }
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
    local a = adds[key]
    a[#a + 1] = id
    a[#a + 1] = amount .. ' ' .. t
end

for _, key in ipairs(keys) do
    local a = adds[key]
    redis.call('HSET', key, unpack(a))
    redis.call('EXPIREAT', key, a.expire)
end

for _, q in ipairs(counted) do
    local z, h = {}, {}
    for i = 1, claims do
        local id, _, ends, _, qi = claim(i)
        if qi == q and new_of[q][id] then
            z[#z + 1] = ends
            z[#z + 1] = id
            h[#h + 1] = id
            h[#h + 1] = t
        end
    end
    if #z > 0 then
        redis.call('ZADD', q, unpack(z))
        redis.call('HSET', w_of[q], unpack(h))
    end
end

local u = {}
for i = 1, claims do
    local id, score = claim(i)
    u[#u + 1] = score
    u[#u + 1] = id
end
if #u > 0 then
    redis.call('ZADD', K_U, unpack(u))
end

return { 'ok' }
