-- Prelude of every ngx_booking script (config puts it before each one).
--
-- KEYS[1] is the resource's hash, bk:{r:<id>}.  Every other key of the
-- resource is KEYS[1] followed by a suffix, so that all of them share the
-- hash tag {r:<id>} and live in one Redis Cluster slot:
--
--   bk:{r:<id>}              hash    the resource
--   bk:{r:<id>}:b:<rand>     hash    one booking (id "<id>.<rand>")
--   bk:{r:<id>}:c:<n>        string  units in use of slots [n*1024, (n+1)*1024),
--                                    4 bytes big-endian per slot
--   bk:{r:<id>}:chunks       zset    the counter chunks that exist
--   bk:{r:<id>}:holds        zset    held bookings by expires_at
--   bk:{r:<id>}:live         zset    occupying bookings by end + buffer
--   bk:{r:<id>}:all          zset    every booking kept, by end + buffer
--   bk:{r:<id>}:idem:<i>:<s>  hash   an Idempotency-Key's first answer
--                                    (i: the resource's incarnation, so that
--                                    a deleted and remade resource starts
--                                    afresh; s: the caller's scope and key)
--
-- Times are seconds since the epoch, read from Redis's clock (TIME).

local CHUNK = 1024
local RETAIN = 31 * 86400          -- ended bookings are kept this long
local FOREVER = 253402300799       -- the end of timeless bookings
local IDEM_TTL = 86400

-- A whole number as the text Redis reads.  A Lua number given to
-- redis.call, or joined to a string, is written with printf's "%.17g" or
-- "%.14g": on the hot paths that was 6% of Redis's time for a hold; "%d"
-- costs a small part of it.  Lua's "%d" goes through a C long: where that
-- has 32 bits, "%.0f" (exact to 2^53).  Strings, and numbers that are not
-- whole (which Redis refuses), pass as they would have.
local INT = string.format('%d', 2 ^ 40) == '1099511627776' and '%d' or '%.0f'

local function digits(v)
    if type(v) == 'number' and v % 1 == 0 then
        return string.format(INT, v)
    end
    return v
end

local function err(status, code, message, field)
    return { 'err', status, code, message, field or '' }
end

-- Redis's clock, the one every nginx host shares: seconds, then the
-- microseconds, which writes use to draw their turn of index upkeep.
local function now()
    local t = redis.call('TIME')
    return tonumber(t[1]), tonumber(t[2])
end

-- Index upkeep (pruning, the user index) is needed on average, not on
-- every write: each upkeep removes all that is stale at once, so one write
-- in UPKEEP doing it keeps the indexes bounded, and the others save the
-- five to six Redis calls it costs.
local UPKEEP = 8

local function upkeep_due(us)
    return us % UPKEEP == 0
end

local function rkey(suffix)
    return KEYS[1] .. ':' .. suffix
end

local function bkey(rand)
    return KEYS[1] .. ':b:' .. rand
end

-- gen changes whenever the counters start afresh (a new type or slot), inc
-- once per incarnation (a DELETE and a PUT again): both are Redis's clock
-- in microseconds when that happened, so that no booking of an earlier
-- era or incarnation can ever match, and so touch, what is counted now.
local function load_resource()
    local h = redis.call('HMGET', KEYS[1], 'type', 'slot', 'capacity', 'used',
                         'gen', 'owner', 'groups', 'created_at', 'inc')
    if not h[1] then
        return nil
    end
    return { type = h[1], slot = tonumber(h[2]), capacity = tonumber(h[3]),
             used = tonumber(h[4]), gen = h[5], owner = h[6] or '',
             groups = h[7] or '', created_at = h[8], inc = h[9] or '' }
end

local function stamp(t, us)
    return string.format('%d%06d', t, us)
end

local ZERO4 = string.char(0, 0, 0, 0)

-- Work per script is bounded (README, "Bounded work"): a sweep frees at
-- most SWEEP_HOLDS holds, or about SWEEP_SLOTS slots of counters; a
-- script that finds more due answers AGAIN before doing anything else, and
-- the worker sends it again, so that an expired hold never occupies units
-- and no script stalls Redis for everyone else.
local SWEEP_HOLDS = 64
local SWEEP_SLOTS = 40000

-- The stored counters of slots [s0, s1), one string per chunk, each
-- shorter than asked where nothing was stored past its end: what an
-- availability read returns as it is, for the worker to pad and decode.
local function counter_parts(s0, s1)
    local parts = {}
    local s = s0
    while s < s1 do
        local c = math.floor(s / CHUNK)
        local last = math.min(s1, (c + 1) * CHUNK)
        local off = (s - c * CHUNK) * 4
        parts[#parts + 1] = redis.call('GETRANGE', rkey('c:' .. digits(c)),
                                       digits(off),
                                       digits(off + (last - s) * 4 - 1))
        s = last
    end
    return parts
end

-- The counters of slots [s0, s1), chunk by chunk: { c = chunk number,
-- off = first byte, bytes = its part of the range, zeros where nothing is
-- stored, short = whether the chunk may not exist yet }.
local function read_counters(s0, s1)
    local parts = {}
    local s = s0
    while s < s1 do
        local c = math.floor(s / CHUNK)
        local last = math.min(s1, (c + 1) * CHUNK)
        local off = (s - c * CHUNK) * 4
        local want = (last - s) * 4
        local got = redis.call('GETRANGE', rkey('c:' .. digits(c)),
                               digits(off), digits(off + want - 1))
        local short = #got < want
        if short then
            got = got .. string.rep(ZERO4, (want - #got) / 4)
        end
        parts[#parts + 1] = { c = c, off = off, bytes = got, short = short }
        s = last
    end
    return parts
end

local function joined(parts)
    local all = {}
    for i, p in ipairs(parts) do
        all[i] = p.bytes
    end
    return table.concat(all)
end

local function decode(bytes, i)
    local a, b, c, d = string.byte(bytes, i, i + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
end

local function encode(u)
    return string.char(math.floor(u / 16777216) % 256,
                       math.floor(u / 65536) % 256,
                       math.floor(u / 256) % 256, u % 256)
end

-- Every counter goes through string.gsub, which walks the bytes in C and
-- looks each 4-byte counter up in a table: only a value not seen before
-- costs a Lua call, and a range holds few distinct values, so this costs
-- about a tenth of decoding and encoding every slot in Lua.  The table
-- maps a counter to itself plus delta (never below 0) and notes whether
-- any passes cap.
local function shift_table(delta, cap)
    local state = { over = false, max = 0 }
    local map = setmetatable({}, { __index = function(m, k)
        local u = decode(k, 1)
        if u > state.max then
            state.max = u
        end
        u = u + delta
        if u < 0 then
            u = 0
        end
        if cap and u > cap then
            state.over = true
        end
        local v = encode(u)
        rawset(m, k, v)
        return v
    end })
    return map, state
end

-- The most units in use among counters.
local function max_in(parts)
    local map, state = shift_table(0)
    for _, p in ipairs(parts) do
        string.gsub(p.bytes, '....', map)
    end
    return state.max
end

-- Adds delta to the counters read, and writes them back; or, when a slot
-- would pass cap, writes nothing and answers false.  A chunk whose read
-- came back short may be new: it alone is put in the chunk index and given
-- its expiry.  A chunk a release leaves all zeros is deleted: it holds
-- nothing, and a far-future booking cancelled must not leave its chunks
-- behind until their slots are long past.
local ZERO_CHUNK = string.rep(ZERO4, CHUNK)

local function shift_counters(parts, delta, cap, slot)
    local map, state = shift_table(delta, cap)
    local out = {}
    for i, p in ipairs(parts) do
        out[i] = string.gsub(p.bytes, '....', map)
        if state.over then
            return false
        end
    end
    for i, p in ipairs(parts) do
        local key = rkey('c:' .. digits(p.c))
        local whole = #out[i] == CHUNK * 4
        if delta < 0 and (whole and out[i] == ZERO_CHUNK or not whole and
                          out[i] == string.rep(ZERO4, #out[i] / 4)) then
            -- the rest of the chunk, outside the part just released
            local rest = not whole and redis.call('GET', key) or ''
            rest = string.sub(rest, 1, p.off) ..
                   string.sub(rest, p.off + #out[i] + 1)
            if rest == string.rep(ZERO4, #rest / 4) then
                redis.call('DEL', key)
                redis.call('ZREM', rkey('chunks'), digits(p.c))
            else
                redis.call('SETRANGE', key, digits(p.off), out[i])
            end
        else
            redis.call('SETRANGE', key, digits(p.off), out[i])
            if p.short then
                -- the key may be new, even where the chunk index still
                -- names it (an expired chunk rewritten by a late
                -- release): a chunk is useless once its last slot has
                -- ended long enough
                redis.call('ZADD', rkey('chunks'), 'NX', digits(p.c),
                           digits(p.c))
                redis.call('EXPIREAT', key,
                           digits(math.min((p.c + 1) * CHUNK * slot, FOREVER)
                                  + RETAIN))
            end
        end
    end
    return true
end

-- The most units in use in any slot from slot s0 on: every chunk booked
-- from now on is read (an admin's PUT lowering capacity).
local function max_used_from(s0)
    local chunks = redis.call('ZRANGEBYSCORE', rkey('chunks'),
                              math.floor(s0 / CHUNK), '+inf')
    local max = 0
    for _, c in ipairs(chunks) do
        local n = tonumber(c)
        max = math.max(max, max_in(read_counters(math.max(s0, n * CHUNK),
                                                 (n + 1) * CHUNK)))
    end
    return max
end

-- The slots [s0, s1) a timed booking occupies, buffer included.
local function occupied(b, slot)
    return tonumber(b.start) / slot,
           (tonumber(b['end']) + tonumber(b.buffer)) / slot
end

-- Gives back the units of a booking that stops occupying them at t, and
-- answers how many slots of counters that cost.  A booking of an earlier
-- gen (made before a change of type or slot) gives back nothing: the
-- counters it took were dropped with that change, and what is counted now
-- was never its own.
local function release(R, rand, b, t)
    local n = 0
    if b.gen == R.gen then
        local qty = tonumber(b.quantity)
        if R.slot == 0 then
            redis.call('HINCRBY', KEYS[1], 'used', -qty)
            R.used = R.used - qty
        else
            local s0, s1 = occupied(b, R.slot)
            shift_counters(read_counters(s0, s1), -qty, nil, R.slot)
            n = s1 - s0
        end
    end
    if R.slot == 0 then
        -- a timeless booking is kept RETAIN from now, like any other
        redis.call('ZADD', rkey('all'), digits(t), rand)
    end
    redis.call('ZREM', rkey('live'), rand)
    return n
end

local FIELDS = { 'status', 'kind', 'start', 'end', 'quantity', 'user',
                 'created_at', 'updated_at', 'expires_at', 'note', 'gen',
                 'buffer', 'type', 'inc' }

-- A booking of this incarnation of the resource.  A DELETE leaves the
-- hashes of its bookings to expire as they would have (RETAIN after they
-- ended) rather than deleting them one by one: they belong to no
-- incarnation any more, and do not exist for anyone.
local function load_booking(R, rand)
    local v = redis.call('HMGET', bkey(rand), unpack(FIELDS))
    if not v[1] or (v[14] or '') ~= R.inc then
        return nil
    end
    local b = {}
    for i, f in ipairs(FIELDS) do
        b[f] = v[i] or ''
    end
    return b
end

-- Expired holds free their units now, before anything reads or checks
-- capacity: a hold occupies nothing from its expires_at on, whether or not
-- anyone looked at it then.  False when more are due than one script may
-- free: the caller answers AGAIN.
local function sweep(R, t)
    local due = redis.call('ZRANGEBYSCORE', rkey('holds'), '-inf', digits(t),
                           'LIMIT', 0, SWEEP_HOLDS + 1)
    local budget = SWEEP_SLOTS
    for i, rand in ipairs(due) do
        if i > SWEEP_HOLDS or budget <= 0 then
            return false
        end
        local b = load_booking(R, rand)
        if b and b.status == 'held' then
            budget = budget - release(R, rand, b, t)
            redis.call('HSET', bkey(rand), 'status', 'expired',
                       'updated_at', b.expires_at)
            redis.call('EXPIREAT', bkey(rand), digits(t + RETAIN))
        end
        redis.call('ZREM', rkey('holds'), rand)
    end
    return true
end

local function again()
    return redis.status_reply('AGAIN')
end

-- Index entries of bookings gone RETAIN ago: writes do this, so that reads
-- pay only for the sweep.
local function prune(R, t)
    redis.call('ZREMRANGEBYSCORE', rkey('live'), '-inf', '(' .. (t - RETAIN))
    redis.call('ZREMRANGEBYSCORE', rkey('all'), '-inf', '(' .. (t - RETAIN))
    if R.slot > 0 then
        -- chunks whose keys expired (RETAIN after their last slot)
        redis.call('ZREMRANGEBYSCORE', rkey('chunks'), '-inf',
                   '(' .. (math.floor((t - RETAIN) / (CHUNK * R.slot)) - 1))
    end
end

-- Occupying bookings that have not ended.
local function live_after(t)
    return redis.call('ZCOUNT', rkey('live'), '(' .. t, '+inf')
end

-- The counters, when no booking occupies any slot from now on (a change
-- of type or slot, a DELETE): a chunk all zeros is deleted when released,
-- and prune() drops chunks RETAIN after their last slot, so what is left
-- is the chunks of the last RETAIN (45 at most, for 1-minute slots).
local function drop_counters()
    local chunks = redis.call('ZRANGE', rkey('chunks'), 0, -1)
    for _, c in ipairs(chunks) do
        redis.call('DEL', rkey('c:' .. c))
    end
    redis.call('DEL', rkey('chunks'))
end

-- The rules of a type, as nginx.conf gives them: every script that needs
-- them gets one line per type from ARGV[first] on, so that a reload of
-- nginx.conf applies at once.  longest: the most seconds any booking of
-- the type may span, blocks included (max, else booking_max_range, and
-- never more than the slots one script may count).
local function type_rules(name, first)
    local prefix = name .. ' '
    for i = first, #ARGV do
        if string.sub(ARGV[i], 1, #prefix) == prefix then
            local v = {}
            for n in string.gmatch(string.sub(ARGV[i], #prefix + 1), '%d+') do
                v[#v + 1] = tonumber(n)
            end
            return { slot = v[1], hold = v[2], min = v[3], max = v[4],
                     buffer = v[5], lead = v[6], horizon = v[7],
                     approval = v[8] == 1, max_active = v[9],
                     longest = v[10] }
        end
    end
    return nil
end

-- The answer every booking operation gives: the booking's fields in a
-- fixed order, '' for those that do not apply; the worker writes the JSON.
local function tuple(status, id, b, slot)
    local expires = ''
    if b.status == 'held' then
        expires = b.expires_at
    end
    return { 'ok', status, id, b.type, b.status, b.kind, b.start, b['end'],
             tonumber(b.quantity), b.user, b.created_at, expires,
             b.note, slot, 0, b.updated_at }
end

-- The booking id clients see: "<resource id>.<rand>".
local function booking_id(rand)
    return string.sub(KEYS[1], 7, -2) .. '.' .. rand
end

-- A hold read after its expires_at is shown as what it already is, even by
-- a read that does not sweep.
local function as_of(b, t)
    if b.status == 'held' and tonumber(b.expires_at) <= t then
        b.status = 'expired'
        b.updated_at = b.expires_at
    end
    return b
end

-- May the caller see (and act on) this booking at all?
local function sees(R, b, user, admin)
    return admin == '1' or (user ~= '' and (user == b.user or
                                             user == R.owner))
end

