-- The bench's own peer scripts (tests/bench/bench.pl, the "own" variants of
-- the OpenResty and Node peers): the layout an application developer
-- picks first, not ngx_booking's.  Each script is this file followed by
-- its own; the peer puts them together.
--
--   res:{<id>}          hash: type, slot, capacity, used (units of a stock)
--   res:{<id>}:used:<d> string: the units in use of the slots of day d
--                       (start / 86400), 4 bytes big-endian a slot
--   res:{<id>}:holds    sorted set: the held bookings, by expires_at
--   res:{<id>}:bk:<r>   hash: one booking
--
--   type:<t>            sorted set: the ids of a type, all of score 0
--
-- A script on one resource has its first three keys as KEYS (the others
-- share their hash tag); the functions below take the resource's key r.
-- The listing script reads the resources of a page in one script, as on a
-- single Redis one does.  Replies are the shapes the module's scripts
-- answer, so that the peer's HTTP code is the same for both stores.

local now = tonumber(redis.call('TIME')[1])

local function err(status, code, message, field)
    return { 'err', status, code, message, field or '' }
end

-- the rules line of a type: slot hold min max buffer lead horizon ...
local function rules_of(name, first)
    for i = first, #ARGV do
        local t, rest = string.match(ARGV[i], '^(%S+) (.*)$')
        if t == name then
            local v = {}
            for n in string.gmatch(rest, '%d+') do
                v[#v + 1] = tonumber(n)
            end
            return { slot = v[1], hold = v[2], min = v[3], max = v[4] }
        end
    end
end

-- A day of counters is one string, 4 bytes big-endian a slot, read with
-- MGET and changed with BITFIELD: a month is one MGET of 30 keys.  (Every type of
-- the bench has slots that divide a day.)
local function day_of(r, s, slot)
    local per = 86400 / slot
    local d = math.floor(s / per)
    return r .. ':used:' .. d, s - d * per, per
end

local function add(r, s, slot, delta)
    local k, i = day_of(r, s, slot)
    redis.call('BITFIELD', k, 'INCRBY', 'u32', '#' .. i, delta)
end

-- the day keys of slots [s0, s1), and each day's first slot and count
local function days(r, s0, s1, slot)
    local keys, cut = {}, {}
    local s = s0
    while s < s1 do
        local k, i, per = day_of(r, s, slot)
        local n = math.min(s1 - s, per - i)
        keys[#keys + 1] = k
        cut[#cut + 1] = { i, n }
        s = s + n
    end
    return keys, cut
end

-- the counters of slots [s0, s1), 4 bytes a slot: the days in one MGET
local function read_used(r, s0, s1, slot)
    local keys, cut = days(r, s0, s1, slot)
    local parts = redis.call('MGET', unpack(keys))
    for d, c in ipairs(cut) do
        local i, n = c[1], c[2]
        local bytes = parts[d] and string.sub(parts[d], i * 4 + 1, (i + n) * 4)
                      or ''
        parts[d] = bytes .. string.rep('\0', n * 4 - #bytes)
    end
    return table.concat(parts)
end

local function units(counters, i)
    local a, b, c, d = string.byte(counters, i * 4 - 3, i * 4)
    return ((a * 256 + b) * 256 + c) * 256 + d
end

-- the fewest units free over slots [s0, s1), looking no further once
-- fewer than qty: a day nobody booked has no key, and is all free
local function fewest_free(r, s0, s1, slot, cap, qty)
    local keys, cut = days(r, s0, s1, slot)
    local parts = redis.call('MGET', unpack(keys))
    local free = cap
    for d, c in ipairs(cut) do
        local v = parts[d]
        if v then
            for k = c[1] + 1, math.min(c[1] + c[2], #v / 4) do
                free = math.min(free, cap - units(v, k))
                if free < qty then
                    return free
                end
            end
        end
    end
    return free
end

local function give_back(r, slot, b)
    local q = tonumber(b[4])
    if slot == 0 then
        redis.call('HINCRBY', r, 'used', -q)
        return
    end
    for s = tonumber(b[2]) / slot, tonumber(b[3]) / slot - 1 do
        add(r, s, slot, -q)
    end
end

-- holds past their expires_at give their units back first
local function sweep(r, slot)
    local due = redis.call('ZRANGEBYSCORE', r .. ':holds', '-inf', now,
                           'LIMIT', 0, 100)
    for _, rand in ipairs(due) do
        local k = r .. ':bk:' .. rand
        local b = redis.call('HMGET', k, 'status', 'start', 'end',
                             'quantity')
        if b[1] == 'held' then
            give_back(r, slot, b)
            redis.call('HSET', k, 'status', 'expired')
        end
        redis.call('ZREM', r .. ':holds', rand)
    end
end

local FIELDS = { 'status', 'kind', 'start', 'end', 'quantity', 'user',
                 'created_at', 'expires_at', 'note', 'type', 'updated_at' }

-- the module's tuple: ok http id type status kind start end quantity user
-- created_at expires_at note slot replayed updated_at
local function answer(http, id, b, slot)
    return { 'ok', http, id, b.type, b.status, b.kind, b.start, b['end'],
             tonumber(b.quantity), b.user, b.created_at,
             b.status == 'held' and b.expires_at or '', b.note, slot, 0,
             b.updated_at }
end
