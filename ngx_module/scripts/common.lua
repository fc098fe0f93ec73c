-- Prelude of every ngx_booking script (config puts it before each one).
--
-- KEYS[1] is the resource's hash, bk:{r:<id>}.  Every other key of the
-- resource is KEYS[1] followed by a suffix, so that all of them share the
-- hash tag {r:<id>} and live in one Redis Cluster slot.
--
-- Counters: the units in use of each slot, 4 bytes big-endian per slot, in
-- chunks of CHUNK slots: bk:{r:<id>}:c:<n> covers slots [n*CHUNK, (n+1)*CHUNK).
-- A chunk exists only once something was booked in it; the sorted set
-- bk:{r:<id>}:chunks lists them.

local CHUNK = 1024

local function err(status, code, message, field)
    return { 'err', status, code, message, field or '' }
end

-- Redis's clock, the one every nginx host shares.
local function now()
    local t = redis.call('TIME')
    return tonumber(t[1])
end

local function rkey(suffix)
    return KEYS[1] .. ':' .. suffix
end

local ZERO4 = string.char(0, 0, 0, 0)

-- The raw counters of slots [s0, s1), zeros where nothing is stored.
local function read_counters(s0, s1)
    local parts = {}
    local s = s0
    while s < s1 do
        local c = math.floor(s / CHUNK)
        local last = math.min(s1, (c + 1) * CHUNK)
        local off = (s - c * CHUNK) * 4
        local want = (last - s) * 4
        local got = redis.call('GETRANGE', rkey('c:' .. c), off,
                               off + want - 1)
        parts[#parts + 1] = got
        if #got < want then
            parts[#parts + 1] = string.rep(ZERO4, (want - #got) / 4)
        end
        s = last
    end
    return table.concat(parts)
end

local function decode(bytes, i)
    local a, b, c, d = string.byte(bytes, i, i + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
end

-- The most units in use in any slot from slot s0 on.
local function max_used_from(s0)
    local chunks = redis.call('ZRANGEBYSCORE', rkey('chunks'),
                              math.floor(s0 / CHUNK), '+inf')
    local max = 0
    for _, c in ipairs(chunks) do
        local n = tonumber(c)
        local from = math.max(s0, n * CHUNK)
        local bytes = read_counters(from, (n + 1) * CHUNK)
        for i = 1, #bytes, 4 do
            local u = decode(bytes, i)
            if u > max then max = u end
        end
    end
    return max
end

-- Bookings come with their own scripts; until then nothing is held, so
-- nothing expires.  Every script that reads or changes capacity calls this
-- first, so that an expired hold frees its units at expires_at.
local function sweep(t)
end

-- Occupying bookings that have not ended (bk:{r:<id>}:live is scored by
-- the end of each, buffer included; timeless ones by +inf).
local function live_after(t)
    return redis.call('ZCOUNT', rkey('live'), '(' .. t, '+inf')
end

local function drop_counters()
    local chunks = redis.call('ZRANGE', rkey('chunks'), 0, -1)
    for _, c in ipairs(chunks) do
        redis.call('DEL', rkey('c:' .. c))
    end
    redis.call('DEL', rkey('chunks'))
end

