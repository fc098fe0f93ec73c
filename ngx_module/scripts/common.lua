-- The library of every ngx_booking script (config puts the contract's
-- prelude, then this, before each script's own body).
--
-- Every key a script touches is one of its KEYS (the contract names them:
-- K_R the resource, K_B its bookings, K_C its counters, K_K its counter
-- chunks, K_H its holds, K_A its bookings by end, ...).  They share the
-- resource's hash tag, so that a script runs on one Redis Cluster node.
--
-- Times are seconds since the epoch, read from Redis's clock (TIME).
--
-- Each script also runs as a function of a Redis library (FCALL), whose
-- top level runs once, when it is loaded: a top-level local whose value
-- must be new at every call says so with "-- per call" at the end of its
-- line (library.awk makes it a statement of every call).  Nothing else at
-- the top level may change after it is set, except as a cache of what
-- never changes.

local CHUNK = 256                  -- slots of one counter chunk (1 KB)
local RETAIN = 31 * 86400          -- ended bookings are kept this long
local FOREVER = 253402300799       -- the end of timeless bookings
local IDEM_TTL = 86400

-- Work per script is bounded (README, "Bounded work"): a sweep frees at
-- most SWEEP_HOLDS holds, or about SWEEP_SLOTS slots of counters; a
-- script that finds more due answers AGAIN before doing anything else, and
-- the worker sends it again, so that an expired hold never occupies units
-- and no script stalls Redis for everyone else.
local SWEEP_HOLDS = 32
local SWEEP_SLOTS = 40000

-- The most slots of counters the occurrences of one series, or the items
-- of one group, check and write together: one booking's most.
local GROUP_SLOTS = 40000

-- Index upkeep is needed on average, not on every write: one write in
-- UPKEEP drops up to PRUNE entries of each index gone RETAIN ago, more
-- than the writes in between can add.
local UPKEEP = 8
local PRUNE = 64

-- A whole number as the text Redis reads.  A Lua number given to
-- redis.call, or joined to a string, is written with printf's "%.17g" or
-- "%.14g": on the hot paths that was 6% of Redis's time for a hold; "%d"
-- costs a small part of it.  Lua's "%d" goes through a C long: where that
-- has 32 bits, "%.0f" (exact to 2^53).  Strings, and numbers that are not
-- whole (which Redis refuses), pass as they would have.
local INT = string.format('%d', 2 ^ 40) == '1099511627776' and '%d' or '%.0f'  -- per call

local function digits(v)
    if type(v) == 'number' and v % 1 == 0 then
        return string.format(INT, v)
    end
    return v
end

-- What a script did besides its answer, for booking_status: holds it
-- expired, events it appended.  Scripts return their answer through
-- effects(), which adds a last element "FX <expired> <events>" when
-- either is not 0; the worker counts it and takes it off before reading
-- the answer (ngx_booking_store.c).  An answer that is a status (AGAIN)
-- becomes {AGAIN, FX}.
local fx_expired, fx_events = 0, 0  -- per call

local function effects(answer)
    if fx_expired + fx_events == 0 or type(answer) ~= 'table' then
        return answer
    end
    local fx = redis.status_reply('FX ' .. fx_expired .. ' ' .. fx_events)
    fx_expired, fx_events = 0, 0
    if answer.ok then
        return { answer, fx }
    end
    answer[#answer + 1] = fx
    return answer
end

local function err(status, code, message, field)
    return effects({ 'err', status, code, message, field or '' })
end

local function again()
    return effects(redis.status_reply('AGAIN'))
end

-- Redis's clock, the one every nginx host shares: seconds, then the
-- microseconds, which writes use to draw their turn of index upkeep.
local function now()
    local t = redis.call('TIME')
    -- digits only: "+ 0" is tonumber's conversion, with one strtod not two
    return t[1] + 0, t[2] + 0
end

local function upkeep_due(us)
    return us % UPKEEP == 0
end

-- gen changes whenever the counters start afresh (a new type or slot),
-- inc once per incarnation (a DELETE and a PUT again): both are Redis's
-- clock in microseconds when that happened, so that no booking of an
-- earlier era or incarnation can ever match, and so touch, what is
-- counted now.
local function stamp(t, us)
    return string.format('%d%06d', t, us)
end

-- The resource's id: what its keys end with, after bk:{sNN}:r:
local RID = K_R and string.match(K_R, '^bk:{s%x+}:r:(.*)$')  -- per call

local function booking_id(rand)
    return RID .. '.' .. rand
end

local function load_resource()
    local h = redis.call('HMGET', K_R, 'type', 'slot', 'capacity', 'used',
                         'gen', 'owner', 'groups', 'created_at', 'inc', 'due',
                         'wl', 'hours')
    if not h[1] then
        return nil
    end
    -- slot, capacity and used are written with the resource, as digits:
    -- "+ 0" converts them as tonumber does, with one strtod not two
    return { type = h[1], slot = h[2] + 0, capacity = h[3] + 0,
             used = h[4] + 0, gen = h[5], owner = h[6] or '',
             groups = h[7] or '', created_at = h[8], inc = h[9] or '',
             due = h[10] and h[10] + 0, wl = h[11] and h[11] + 0 or 0,
             hours = h[12] or '' }
end

-- A booking is one field of K_B: its record, a JSON object of strings
-- (cjson writes no number but in "%.14g", which would round the stamps).
local function load_record(key, R, rand)
    local v = redis.call('HGET', key, rand)
    if not v then
        return nil
    end
    local b = cjson.decode(v)
    if b.inc ~= R.inc then
        return nil
    end
    return b
end

local function load_booking(R, rand)
    return load_record(K_B, R, rand)
end

-- A field's text in the record: nil and '' are left out, numbers written
-- as digits().
local function record_text(v)
    if v == nil or v == '' then
        return nil
    end
    if type(v) == 'number' and v % 1 == 0 then
        return string.format(INT, v)
    end
    return v
end

local function store_booking(rand, b)
    redis.call('HSET', K_B, rand, cjson.encode(record_of(b, record_text)))
end

-- ---------------------------------------------------------------- events

-- An instant as RFC 3339 in UTC (Redis's Lua has no os.date): days since
-- the epoch to the civil date, by Howard Hinnant's days_from_civil
-- inverse (proleptic Gregorian, eras of 400 years).
local function rfc3339(s)
    local days = math.floor(s / 86400)
    local sec = s - days * 86400
    local z = days + 719468
    local era = math.floor(z / 146097)
    local doe = z - era * 146097
    local yoe = math.floor((doe - math.floor(doe / 1460)
                            + math.floor(doe / 36524)
                            - math.floor(doe / 146096)) / 365)
    local doy = doe - (365 * yoe + math.floor(yoe / 4)
                       - math.floor(yoe / 100))
    local mp = math.floor((5 * doy + 2) / 153)
    local d = doy - math.floor((153 * mp + 2) / 5) + 1
    local m = mp < 10 and mp + 3 or mp - 9
    local y = yoe + era * 400 + (m <= 2 and 1 or 0)
    return string.format('%04d-%02d-%02dT%02d:%02d:%02dZ', y, m, d,
                         math.floor(sec / 3600), math.floor(sec / 60) % 60,
                         sec % 60)
end

-- An instant as the API writes it: a plain date for day slots.
local function instant_text(s, slot)
    local v = rfc3339(s)
    if slot > 0 and slot % 86400 == 0 then
        return string.sub(v, 1, 10)
    end
    return v
end

-- The change's event, appended to the shard's stream by the script that
-- makes the change, so that neither is ever without the other.
-- A_EVENTS: the most entries one stream keeps (approximately), '' when
-- booking_events is off.  Never a token, never a note.
local function append_event(f, b)
    f[#f + 1], f[#f + 2] = 'resource', RID
    f[#f + 1], f[#f + 2] = 'type', b.type or ''
    f[#f + 1], f[#f + 2] = 'status', b.status
    f[#f + 1], f[#f + 2] = 'user', b.user or ''
    if b.start and b.start ~= '' then
        f[#f + 1], f[#f + 2] = 'start', rfc3339(tonumber(b.start))
        f[#f + 1], f[#f + 2] = 'end', rfc3339(tonumber(b['end']))
    end
    f[#f + 1], f[#f + 2] = 'quantity', digits(tonumber(b.quantity))
    f[#f + 1], f[#f + 2] = 'rev', digits(tonumber(b.rev) or 1)
    f[#f + 1], f[#f + 2] = 'at', rfc3339(tonumber(b.updated_at))
    redis.call('XADD', K_E, 'MAXLEN', '~', A_EVENTS, '*', unpack(f))
    fx_events = fx_events + 1
end

local function booking_event(name, rand, b)
    if A_EVENTS ~= '' then
        append_event({ 'event', name, 'booking', booking_id(rand) }, b)
    end
end

local function resource_event(name, typ, t)
    if A_EVENTS ~= '' then
        redis.call('XADD', K_E, 'MAXLEN', '~', A_EVENTS, '*', 'event', name,
                   'resource', RID, 'type', typ, 'at', rfc3339(t))
        fx_events = fx_events + 1
    end
end

-- A booking's revision: 1 when made, one more on every change of it.
local function next_rev(b)
    b.rev = (tonumber(b.rev) or 1) + 1
end

-- ---------------------------------------------------------------- counters

local ZERO4 = '\0\0\0\0'

-- a chunk of zeros, made the first time a script needs it, not on every
-- call of every script
local zero_chunk_text

local function zero_chunk()
    if not zero_chunk_text then
        zero_chunk_text = string.rep(ZERO4, CHUNK)
    end
    return zero_chunk_text
end

-- The counters of slots [s0, s1), chunk by chunk: { c = chunk number, f =
-- its field, first = its first slot in the range (0-based), n = slots,
-- whole = the chunk's bytes (nil when it does not exist yet), new =
-- whether it does not }.  A range within one chunk (a booking of a few
-- hours, the usual one) builds no lists.  (It stays an HMGET, as
-- t/41-commandstats asks; an HGET would save 1% of a hold.)
local function read_counters(s0, s1)
    local c = math.floor(s0 / CHUNK)
    if s0 < s1 and s1 <= (c + 1) * CHUNK then
        local f = digits(c)
        local w = redis.call('HMGET', K_C, f)[1]
        return { { c = c, f = f, first = s0 - c * CHUNK, n = s1 - s0,
                   whole = w or nil, new = not w } }
    end
    local parts, fields = {}, {}
    local s = s0
    while s < s1 do
        c = math.floor(s / CHUNK)
        local last = math.min(s1, (c + 1) * CHUNK)
        local f = digits(c)
        parts[#parts + 1] = { c = c, f = f, first = s - c * CHUNK,
                              n = last - s }
        fields[#fields + 1] = f
        s = last
    end
    local got = redis.call('HMGET', K_C, unpack(fields))
    for i, p in ipairs(parts) do
        p.new = not got[i]
        p.whole = got[i] or nil
    end
    return parts
end

-- A chunk not made yet holds zeros: its bytes are made only for the slots
-- asked, not for the whole chunk.
local function bytes_of(p)
    if not p.whole then
        return string.rep(ZERO4, p.n)
    end
    return string.sub(p.whole, p.first * 4 + 1, (p.first + p.n) * 4)
end

-- The range's counters as one string, 4 bytes a slot.
local function joined(parts)
    local all = {}
    for i, p in ipairs(parts) do
        all[i] = bytes_of(p)
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
-- maps a counter to itself plus delta (never below 0), notes the largest
-- it saw, and whether any passes cap.
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

-- The most units in use among the counters read.
local function max_in(parts)
    local map, state = shift_table(0)
    for _, p in ipairs(parts) do
        string.gsub(bytes_of(p), '....', map)
    end
    return state.max
end

-- A few slots (a booking of some hours) are shifted one by one: setting
-- up shift_table and gsub costs more than that.
local FEW = 8

-- The bytes of part p with delta added to each counter (never below 0),
-- or nil when one would pass cap: what gsub and shift_table do, slot by
-- slot.
local function shift_few(p, delta, cap)
    local w, at, bytes = p.whole, p.first * 4 + 1, nil
    for _ = 1, p.n do
        local u = (w and decode(w, at) or 0) + delta
        if u < 0 then
            u = 0
        end
        if cap and u > cap then
            return nil
        end
        -- (a part of one slot, the usual one, is the 4 bytes themselves)
        local c = encode(u)
        bytes = bytes and bytes .. c or c
        at = at + 4
    end
    return bytes or ''
end

-- Adds delta to the counters read and writes them back in one HSET; or,
-- when a slot would pass cap, writes nothing and answers false.  A chunk
-- left all zeros is deleted: it holds nothing, and a far-future booking
-- cancelled must not leave its chunks behind (only a part left all zeros
-- can leave its chunk so; a chunk that got units cannot).
local function shift_counters(parts, delta, cap)
    local map, state
    local set, gone = {}, nil
    for i = 1, #parts do
        local p = parts[i]
        local part
        if p.n <= FEW then
            part = shift_few(p, delta, cap)
            if not part then
                return false
            end
        else
            if not map then
                map, state = shift_table(delta, cap)
            end
            part = string.gsub(bytes_of(p), '....', map)
            if state.over then
                return false
            end
        end
        local whole
        if p.whole then
            whole = string.sub(p.whole, 1, p.first * 4) .. part ..
                    string.sub(p.whole, (p.first + p.n) * 4 + 1)
        else
            whole = string.rep(ZERO4, p.first) .. part ..
                    string.rep(ZERO4, CHUNK - p.first - p.n)
        end
        if delta <= 0 and part == string.rep(ZERO4, p.n) and
           whole == zero_chunk() then
            if not p.new then
                gone = gone or {}
                gone[#gone + 1] = p.f
            end
        else
            set[#set + 1] = p.f
            set[#set + 1] = whole
            if p.new then
                redis.call('ZADD', K_K, p.f, p.f)
            end
        end
    end
    if #set > 0 then
        redis.call('HSET', K_C, unpack(set))
    end
    if gone then
        redis.call('HDEL', K_C, unpack(gone))
        redis.call('ZREM', K_K, unpack(gone))
    end
    return true
end

-- The most units in use in any slot from slot s0 on: every chunk booked
-- from now on is read (an admin's PUT lowering capacity, a type change,
-- a DELETE).
local function max_used_from(s0)
    local chunks = redis.call('ZRANGEBYSCORE', K_K, math.floor(s0 / CHUNK),
                              '+inf')
    if #chunks == 0 then
        return 0
    end
    local got = redis.call('HMGET', K_C, unpack(chunks))
    local parts = {}
    for i, c in ipairs(chunks) do
        local first = math.max(s0 - tonumber(c) * CHUNK, 0)
        parts[i] = { c = tonumber(c), first = first, n = CHUNK - first,
                     whole = got[i] or nil }
    end
    return max_in(parts)
end

-- The slots [s0, s1) a timed booking occupies, buffer included.
local function occupied(b, slot)
    return tonumber(b.start) / slot,
           (tonumber(b['end']) + tonumber(b.buffer or 0)) / slot
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
        R.freed = R.freed or {}
        if R.slot == 0 then
            redis.call('HINCRBY', K_R, 'used', -qty)
            R.used = R.used - qty
            R.freed.all = true
        else
            local s0, s1 = occupied(b, R.slot)
            shift_counters(read_counters(s0, s1), -qty)
            n = s1 - s0
            R.freed[#R.freed + 1] = { s0 * R.slot, s1 * R.slot }
        end
    end
    -- kept RETAIN from now, or from its end when that is sooner
    redis.call('ZADD', K_A, 'LT', digits(t), rand)
    return n
end

-- A new hold expiring at e: the sweep must look then, and the sweeper
-- find the resource in its shard's index of what is due when.
local function hold_due(R, e)
    if not R.due or e < R.due then
        R.due = e
        redis.call('HSET', K_R, 'due', digits(e))
        -- never later than it is: pins kept make it due now
        redis.call('ZADD', K_D, 'LT', digits(e), RID)
    end
end

-- ---------------------------------------------------------------- waitlist

-- A waitlist entry is a field of K_X, its record a JSON object of strings:
-- status (waiting, offered, lapsed), user, kind, start, end, buffer,
-- quantity, hold (the type's when it joined), type, gen, inc, created_at,
-- updated_at, rev, and offered ('1' once it got its hold).  Its offer is
-- a booking of the same rand, so that the claims the worker made on the
-- user's max_active and quotas before it joined (for that id) are the
-- offer's: a hold made with no request of the user's can never exceed
-- them.  K_V holds the waiting ones, by turn; the resource's "wl" counts
-- them, so that a script that frees units looks at the line only when
-- someone is in it.  "u:<user>:<start>:<end>" in K_X names the entry a
-- user has for a range: one each.
--
-- Serving is bounded like the sweep: the whole line (at most WAIT_MAX
-- waiting) is read at once, and only the entries whose range meets a
-- range freed are tried, each for its range of counters, up to
-- SWEEP_SLOTS slots in all.
local WAIT_MAX = 200

local function load_entry(R, rand)
    return load_record(K_X, R, rand)
end

local function store_entry(rand, w)
    local rec = {}
    for k, v in pairs(w) do
        rec[k] = record_text(v)
    end
    redis.call('HSET', K_X, rand, cjson.encode(rec))
end

local function entry_key(w)
    return 'u:' .. w.user .. ':' .. (w.start or '') .. ':' .. (w['end'] or '')
end

local function waitlist_event(name, rand, w)
    if A_EVENTS ~= '' then
        local f = { 'event', name, 'waitlist', booking_id(rand) }
        if w.offered == '1' then
            f[5], f[6] = 'booking', booking_id(rand)
        end
        append_event(f, w)
    end
end

-- out of the line: a waiting entry leaves K_V, and the user's key for its
-- range goes when it is this entry's (offered or lapsed: not deleted)
local function leave_line(R, rand, w, keep_key)
    if redis.call('ZREM', K_V, rand) == 1 then
        redis.call('HINCRBY', K_R, 'wl', -1)
        R.wl = R.wl - 1
    end
    if not keep_key and redis.call('HGET', K_X, entry_key(w)) == rand then
        redis.call('HDEL', K_X, entry_key(w))
    end
end

local function lapse(R, rand, w, t)
    leave_line(R, rand, w)
    w.status, w.updated_at = 'lapsed', t
    w.rev = (tonumber(w.rev) or 1) + 1
    store_entry(rand, w)
    -- kept RETAIN from now, as an ended booking (prune drops both)
    redis.call('ZADD', K_A, 'LT', digits(t), rand)
    waitlist_event('waitlist.lapsed', rand, w)
end

-- The offer: a hold of the waiting user's own, made now, while the units
-- that were just freed are still nobody else's.
local function offer(R, rand, w, t)
    local e = t + tonumber(w.hold)
    local b = { status = 'held', kind = w.kind, start = w.start,
                ['end'] = w['end'], buffer = w.buffer,
                quantity = w.quantity, user = w.user, created_at = t,
                updated_at = t, expires_at = e, gen = R.gen, inc = R.inc,
                type = R.type, rev = 1, offer = '1' }
    store_booking(rand, b)
    redis.call('ZADD', K_H, digits(e), rand)
    hold_due(R, e)
    booking_event('booking.held', rand, b)
    leave_line(R, rand, w, true)
    w.status, w.updated_at, w.offered = 'offered', t, '1'
    w.rev = (tonumber(w.rev) or 1) + 1
    store_entry(rand, w)
    waitlist_event('waitlist.offered', rand, w)
end

-- Takes the entry's units when they are free now: true if it did.
local function take(R, w)
    local qty = tonumber(w.quantity)
    if R.slot == 0 then
        if R.capacity - R.used < qty then
            return false
        end
        redis.call('HINCRBY', K_R, 'used', qty)
        R.used = R.used + qty
        return true
    end
    local s0, s1 = occupied(w, R.slot)
    return shift_counters(read_counters(s0, s1), qty, R.capacity)
end

-- Whether the entry's range (buffer included) meets a range freed: only
-- those can fit now where they did not before.
local function meets(freed, w)
    if freed.all or not w.start then
        return true
    end
    local s, e = tonumber(w.start), tonumber(w['end']) + tonumber(w.buffer)
    for _, f in ipairs(freed) do
        if s < f[2] and e > f[1] then
            return true
        end
    end
    return false
end

-- The line, in order, read at once: entries gone or no longer waiting
-- leave it; one whose start has passed, or made for counters that were
-- since dropped (a new type or slot), lapses; and when units were freed
-- (freed: the ranges, or all), each entry that fits now gets its offer,
-- first come, first served.
local function tend_line(R, t, freed)
    local line = redis.call('ZRANGE', K_V, 0, WAIT_MAX - 1)
    if #line == 0 then
        return
    end
    local recs = redis.call('HMGET', K_X, unpack(line))
    local budget = SWEEP_SLOTS
    for i, rand in ipairs(line) do
        local w = recs[i] and cjson.decode(recs[i])
        if not w or w.inc ~= R.inc or w.status ~= 'waiting' then
            if redis.call('ZREM', K_V, rand) == 1 then
                redis.call('HINCRBY', K_R, 'wl', -1)
                R.wl = R.wl - 1
            end
        elseif w.gen ~= R.gen or (w.start and tonumber(w.start) <= t) then
            lapse(R, rand, w, t)
        elseif freed and budget > 0 and meets(freed, w) then
            if w.start then
                budget = budget - (tonumber(w['end']) + tonumber(w.buffer)
                                   - tonumber(w.start)) / R.slot
            end
            if take(R, w) then
                offer(R, rand, w, t)
            end
        end
    end
end

-- First come, first served, when this script freed units.
local function serve(R, t)
    local freed = R.freed
    if not freed or R.wl <= 0 then
        return
    end
    R.freed = nil
    tend_line(R, t, freed)
end

-- Entries gone RETAIN ago (with their bookings, by the same rands), and
-- the user's key for the range where it is still theirs (an offer kept).
local function prune_entries(rands)
    local gone = {}
    for i, v in ipairs(redis.call('HMGET', K_X, unpack(rands))) do
        if v then
            local key = entry_key(cjson.decode(v))
            if redis.call('HGET', K_X, key) == rands[i] then
                gone[#gone + 1] = key
            end
            gone[#gone + 1] = rands[i]
        end
    end
    if #gone > 0 then
        redis.call('HDEL', K_X, unpack(gone))
    end
end

-- A booking that stops occupying: when it was a waitlist offer, its entry
-- lapses (the next in line is served by the caller).
local function offer_ended(R, rand, b, t)
    if b.offer == '1' then
        local w = load_entry(R, rand)
        if w and w.status == 'offered' then
            lapse(R, rand, w, t)
        end
    end
end

-- A group whose items span hash slots (README, "Groups of items") holds
-- them pinned: a pinned hold due is not freed by the sweep, its fate is
-- the group's primary's to say (the sweeper asks it); the sweep looks
-- again PIN_RETRY later and lists it ("<group> <part>") for the sweeper.
-- Another script's sweep keeps what it saw in the resource's "pins" and
-- makes the resource due at once: the sweeper's look would otherwise be
-- put off again by every script on a busy resource.
local PIN_RETRY = 2
local pins_due = {}  -- per call
-- resource_sweep's: the pins are its to list
local sweeper = false  -- per call

-- Expired holds free their units now, before anything reads or checks
-- capacity: a hold occupies nothing from its expires_at on, whether or not
-- anyone looked at it then.  False when more are due than one script may
-- free: the caller answers AGAIN.  The resource's "due" field is the
-- soonest a hold may expire (never later than the first in K_H): while it
-- is in the future, nothing is due, and the sweep costs no Redis call.
local function sweep(R, t)
    if R.due and R.due > t then
        return true
    end
    local due = redis.call('ZRANGEBYSCORE', K_H, '-inf', digits(t),
                           'LIMIT', 0, SWEEP_HOLDS + 1)
    local budget, seen = SWEEP_SLOTS, {}
    for i, rand in ipairs(due) do
        if i > SWEEP_HOLDS or budget <= 0 then
            serve(R, t)
            return false
        end
        local b = load_booking(R, rand)
        if b and b.status == 'held' and b.pin then
            redis.call('ZADD', K_H, digits(t + PIN_RETRY), rand)
            seen[#seen + 1] = b.group .. ' ' .. b.pin
            pins_due[seen[#seen]] = true
        else
            if b and b.status == 'held' then
                budget = budget - release(R, rand, b, t)
                b.status, b.updated_at = 'expired', b.expires_at
                next_rev(b)
                store_booking(rand, b)
                booking_event('booking.expired', rand, b)
                fx_expired = fx_expired + 1
                offer_ended(R, rand, b, t)
            end
            redis.call('ZREM', K_H, rand)
        end
    end
    local first = redis.call('ZRANGE', K_H, 0, 0, 'WITHSCORES')
    -- pins kept by an earlier script keep the resource due for the
    -- sweeper, whatever this sweep freed
    local pinned = not sweeper and (#seen > 0 or
                                    redis.call('HEXISTS', K_R, 'pins') == 1)
    if #seen > 0 and not sweeper then
        local kept = {}
        for p in string.gmatch(redis.call('HGET', K_R, 'pins') or '',
                                '[^\n]+') do
            kept[p] = true
        end
        for _, p in ipairs(seen) do
            kept[p] = true
        end
        local list = {}
        for p in pairs(kept) do
            list[#list + 1] = p
        end
        redis.call('HSET', K_R, 'pins', table.concat(list, '\n'))
    end
    if first[2] then
        R.due = tonumber(first[2])
        redis.call('HSET', K_R, 'due', first[2])
        redis.call('ZADD', K_D, pinned and digits(t) or first[2], RID)
    else
        R.due = FOREVER
        redis.call('HSET', K_R, 'due', digits(FOREVER))
        redis.call('ZREM', K_D, RID)
    end
    serve(R, t)
    return true
end

-- Bookings and counter chunks gone RETAIN ago: writes drop them, a few at
-- a time, so that reads pay only for the sweep.
local function prune(R, t)
    local old = redis.call('ZRANGEBYSCORE', K_A, '-inf', digits(t - RETAIN),
                           'LIMIT', 0, PRUNE)
    if #old > 0 then
        redis.call('HDEL', K_B, unpack(old))
        redis.call('ZREM', K_A, unpack(old))
        if K_X then
            prune_entries(old)
        end
    end
    if R.slot > 0 then
        old = redis.call('ZRANGEBYSCORE', K_K, '-inf',
                         '(' .. digits(math.floor((t - RETAIN) /
                                                  (CHUNK * R.slot)) - 1),
                         'LIMIT', 0, PRUNE)
        if #old > 0 then
            redis.call('HDEL', K_C, unpack(old))
            redis.call('ZREM', K_K, unpack(old))
        end
    end
end

-- Whether a booking still occupies units from t on: counters from now on,
-- or the stock in use.
local function in_use(R, t)
    if R.slot == 0 then
        return R.used > 0
    end
    return max_used_from(math.floor(t / R.slot)) > 0
end

-- The counters, when no booking occupies any slot from now on (a change
-- of type or slot, a DELETE): the chunks of the last RETAIN.
local function drop_counters()
    redis.call('DEL', K_C, K_K)
end

-- A rules line parsed, by its text: the same text always reads the same,
-- so a library keeps what it parsed across calls (its top level lives as
-- long as it is loaded) and a hold or a confirm only looks its line up; the
-- twelve captures and the table were a tenth of a hold's Lua.  Emptied when
-- it holds RULES_KEPT lines: a line changes only with nginx.conf.
local RULES_KEPT = 64
local rules_parsed, rules_count = {}, 0

local function parse_rules(line, at)
    -- the ten numbers in one match, not a gmatch and a table: nginx
    -- writes the line ("%V %L %L ..."); the captures are digits only, so
    -- "+ 0" reads them as tonumber does, with one strtod where tonumber
    -- takes two
    local slot, hold, min, max, buffer, lead, horizon, approval,
          max_active, longest, hold_max, waitlist = string.match(line,
        '^%D*(%d+)%D+(%d+)%D+(%d+)%D+(%d+)%D+(%d+)%D+(%d+)' ..
        '%D+(%d+)%D+(%d+)%D+(%d+)%D+(%d+)%D+(%d+)%D+(%d+)', at)
    if waitlist then
        return { slot = slot + 0, hold = hold + 0, min = min + 0,
                 max = max + 0, buffer = buffer + 0, lead = lead + 0,
                 horizon = horizon + 0, approval = approval + 0 == 1,
                 max_active = max_active + 0, longest = longest + 0,
                 hold_max = hold_max + 0, waitlist = waitlist + 0 == 1 }
    end
    local v = {}
    for n in string.gmatch(string.sub(line, at), '%d+') do
        v[#v + 1] = tonumber(n)
    end
    return { slot = v[1], hold = v[2], min = v[3], max = v[4],
             buffer = v[5], lead = v[6], horizon = v[7],
             approval = v[8] == 1, max_active = v[9], longest = v[10],
             hold_max = v[11], waitlist = v[12] == 1 }
end

-- The rules of a type, as nginx.conf gives them: every script that needs
-- them gets one line per type from ARGV[first] on, so that a reload of
-- nginx.conf applies at once.  longest: the most seconds any booking of
-- the type may span, blocks included (max, else booking_max_range, and
-- never more than the slots one script may count).  Shared by every call
-- that reads the same line: nobody may change it.
local function type_rules(name, first)
    local prefix = name .. ' '
    for i = first, #ARGV do
        local line = ARGV[i]
        if string.find(line, prefix, 1, true) == 1 then
            local rules = rules_parsed[line]
            if not rules then
                if rules_count >= RULES_KEPT then
                    rules_parsed, rules_count = {}, 0
                end
                rules = parse_rules(line, #prefix + 1)
                rules_parsed[line], rules_count = rules, rules_count + 1
            end
            return rules
        end
    end
    return nil
end

-- type_rules(name, first).approval alone, nil when the type has no rules.
local function type_approval(name, first)
    local rules = type_rules(name, first)
    return rules and rules.approval
end

-- The answer every booking operation gives (the contract's tuple): ''
-- for the fields that do not apply; the worker writes the JSON.
local function tuple(http, rand, b, slot)
    return tuple_of({ http = http, id = booking_id(rand), type = b.type,
                      status = b.status, kind = b.kind,
                      start = b.start or '', ['end'] = b['end'] or '',
                      quantity = tonumber(b.quantity), user = b.user or '',
                      created_at = b.created_at,
                      expires_at = b.status == 'held' and b.expires_at or '',
                      note = b.note or '', slot = slot, replayed = 0,
                      updated_at = b.updated_at, position = '',
                      booking = '', group = b.group or '' })
end

-- A waitlist entry as the contract's tuple: its place in line (1: the
-- first) while it waits, and its offer once it got one.  One whose start
-- passed is shown lapsed, as it is, before any script lapses it.
local function entry_tuple(http, R, rand, w, t)
    local status, position = w.status, ''
    if status == 'waiting' then
        if w.start and tonumber(w.start) <= t then
            status = 'lapsed'
        else
            local rank = redis.call('ZRANK', K_V, rand)
            position = rank and rank + 1 or ''
        end
    end
    return tuple_of({ http = http, id = booking_id(rand), type = w.type,
                      status = status, kind = w.kind or '',
                      start = w.start or '', ['end'] = w['end'] or '',
                      quantity = tonumber(w.quantity), user = w.user or '',
                      created_at = w.created_at, expires_at = '',
                      note = '', slot = R.slot, replayed = 0,
                      updated_at = w.updated_at, position = position,
                      booking = w.offered == '1' and booking_id(rand) or '',
                      group = '' })
end

-- A hold read after its expires_at is shown as what it already is, even by
-- a read that does not sweep.
local function as_of(b, t)
    if b.status == 'held' and not b.pin and tonumber(b.expires_at) <= t then
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

-- The answer of a request with an Idempotency-Key is kept for a replay.
local function answered(R, answer)
    if A_SCOPE ~= '' then
        redis.call('HSET', K_I, 'fp', A_FINGERPRINT, 'answer',
                   cjson.encode(answer), 'inc', R.inc)
        redis.call('EXPIRE', K_I, IDEM_TTL)
    end
    return effects(answer)
end

-- What the first request with this Idempotency-Key got, whatever happened
-- since; an error when the key came with another body; nil: a first one.
local function replayed(R)
    if A_SCOPE == '' then
        return nil
    end
    local prev = redis.call('HMGET', K_I, 'fp', 'answer', 'inc')
    if not prev[1] or prev[3] ~= R.inc then
        return nil
    end
    if prev[1] ~= A_FINGERPRINT then
        return err(422, 'invalid', 'this Idempotency-Key was used ' ..
                   'with another body', 'Idempotency-Key')
    end
    local a = cjson.decode(prev[2])
    -- a group's answer: {'group', http, rand, kind, replayed, ...}
    a[a[1] == 'group' and 5 or T_REPLAYED] = 1
    return effects(a)
end

-- May the caller book this resource: a resource with groups admits their
-- members, its owner and admins (a guest is in no group, and is nobody's
-- owner)
local function admitted(R, admin, user)
    if R.groups == '' or admin or (user ~= '' and user == R.owner) then
        return true
    end
    for g in string.gmatch(A_GROUPS, '[^,]+') do
        -- "staff, members": HTTP lists put spaces after their commas
        g = string.match(g, '^%s*(.-)%s*$')
        if g ~= '' and
           string.find(',' .. R.groups .. ',', ',' .. g .. ',', 1, true) then
            return true
        end
    end
    return false
end

-- Opening hours (the resource's "hours", in the compact form PUT wrote:
-- " D:F-T" an interval of weekday D, Monday 0, in minutes of the local
-- day, " xN" a closed day): the range must lie within one interval of
-- the type's clock (zs, ze: its offset from UTC at s and at e).  nil, or
-- the field that is outside.
local function outside_hours(R, s, e, zs, ze)
    local ls, le = s + zs, e + ze
    local day = math.floor(ls / 86400)
    if string.find(R.hours, ' x' .. string.format('%d', day) .. ' ', 1,
                   true) then
        return 'start'
    end
    local wd = (day + 3) % 7
    local ms = (ls - day * 86400) / 60
    local me = math.ceil((le - day * 86400) / 60)
    for d, f, to in string.gmatch(R.hours, ' (%d):(%d+)%-(%d+)') do
        if d + 0 == wd and ms >= f + 0 and ms < to + 0 then
            return me > to + 0 and 'end' or nil
        end
    end
    return 'start'
end

-- Why [s, e) may not be booked as kind under the type's rules at t: the
-- field and the words of a 422, or nil.  An owner's block is not held to
-- the rules made for guests.
local function range_refusal(R, rules, kind, s, e, t, zs, ze)
    if s % R.slot ~= 0 then
        return 'start', 'start is not on a slot boundary'
    end
    if e % R.slot ~= 0 then
        return 'end', 'end is not on a slot boundary'
    end
    if e <= s then
        return 'end', 'end must be after start'
    end
    if kind ~= 'block' then
        if e - s < rules.min then
            return 'end', 'shorter than the least length of ' ..
                   rules.min .. 's (min)'
        end
        if rules.max > 0 and e - s > rules.max then
            return 'end', 'longer than the most length of ' ..
                   rules.max .. 's (max)'
        end
        if rules.lead > 0 then
            if s < t + rules.lead then
                return 'start', 'starts sooner than the ' .. rules.lead ..
                       's of notice asked (lead)'
            end
        elseif s < math.floor(t / R.slot) * R.slot then
            return 'start', 'starts in the past'
        end
        if rules.horizon > 0 and s > t + rules.horizon then
            return 'start', 'starts later than the ' .. rules.horizon ..
                   's ahead allowed (horizon)'
        end
        if R.hours ~= '' then
            local field = outside_hours(R, s, e, zs, ze)
            if field then
                return field, 'outside the opening hours'
            end
        end
    end
    if e - s > rules.longest then
        return 'end', 'longer than the longest booking of ' ..
               rules.longest .. 's a ' .. R.type .. ' may have'
    end
    return nil
end

-- A resource's ten keys, R to V, from KEYS[base + 1] on, put where every
-- function reads them: a script over several resources (a group of
-- items) works on one at a time.  The functions share these locals with
-- the script, so all of them see the change.
local function use_keys(base)
    K_R, K_B, K_C, K_K, K_H, K_A, K_E, K_D, K_X, K_V = KEYS[base + 1],
        KEYS[base + 2], KEYS[base + 3], KEYS[base + 4], KEYS[base + 5],
        KEYS[base + 6], KEYS[base + 7], KEYS[base + 8], KEYS[base + 9],
        KEYS[base + 10]
    RID = string.match(K_R, '^bk:{s%x+}:r:(.*)$')
end

-- the type's clock at s and at e, from " <type>:<offset>:<offset>" each
local function zone_of(typ, zones)
    local at = string.find(zones, ' ' .. typ .. ':', 1, true)
    if at then
        local zs, ze = string.match(zones, '^(%-?%d+):(%-?%d+)',
                                    at + #typ + 2)
        return zs + 0, ze + 0
    end
    return 0, 0
end

-- What refuses this kind of booking on this resource: a block is its
-- owner's or an admin's, and never held; no booking asks more units than
-- there are.  nil, or the error.
local function kind_refusal(R, admin, user, kind, hold, qty)
    if kind == 'block' then
        if not admin and (user == '' or user ~= R.owner) then
            return err(403, 'forbidden', 'only the owner of the resource ' ..
                       'or an admin may block it', 'kind')
        end
        if hold then
            return err(422, 'invalid', 'a block is never held', 'hold')
        end
    end
    if qty > R.capacity then
        return err(422, 'invalid', 'quantity is more than the capacity of ' ..
                   R.capacity, 'quantity')
    end
    return nil
end
