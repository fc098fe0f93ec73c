#!lua
-- POST /bookings, and POST /waitlist (hold "w"): an entry is checked as
-- the booking it waits for, and made only when that booking would be
-- refused for want of units
-- KEYS R B C K H A E D X V, I (the Idempotency-Key's answer; untouched
--      without one).  The user's index (U) has the user's hash tag: the worker
--      writes the booking's id there first, a step of its own
-- ARGV rand user kind hold (1|0|w) start end ('' on timeless) quantity note
--      admin (1|0) groups (the caller's, comma separated) scope (of the
--      Idempotency-Key, '' without) fingerprint (of the body), claimed
--      (the type whose max_active or quotas the worker claimed, '' for
--      none, '!' when the claim was refused: a replay or 429), zones
--      (for each type with a tz: " <type>:<offset at start>:<offset at
--      end>", the seconds its clock is ahead of UTC then), events
--      (booking_events_maxlen of a stream, '' when off), then one rules
--      line per type (from A_RULES on)
-- -> tuple (201; an entry's, with its position, for "w")
--    | {'unavailable', capacity, slot, start, quantity,
--    counters of the range} | {'unavailable', capacity, 0, free} | AGAIN
--    | err

local rand, user, kind = A_RAND, A_USER, A_KIND
local hold, qty, admin = A_HOLD == '1', tonumber(A_QUANTITY), A_ADMIN == '1'
local wait = A_HOLD == 'w'

-- A waitlist entry, at the end of the line: one a user and range, and at
-- most WAIT_MAX waiting.  A full line is tended first (entries whose
-- start passed lapse), so that a line nobody serves still moves.
local function join(R, rand, w, t, rules)
    local key = entry_key(w)
    local had = redis.call('HGET', K_X, key)
    if had then
        local o = load_entry(R, had)
        if o and (o.status == 'offered' or (o.status == 'waiting' and
           not (o.start and tonumber(o.start) <= t))) then
            return err(409, 'conflict', 'you already have an entry ' ..
                       'for this range: ' .. booking_id(had), 'start')
        end
    end
    if R.wl >= WAIT_MAX then
        tend_line(R, t)
        if R.wl >= WAIT_MAX then
            return err(409, 'conflict', 'the waiting line is full',
                       'resource')
        end
    end
    w.status, w.hold, w.type, w.gen, w.inc = 'waiting', rules.hold, R.type,
                                              R.gen, R.inc
    w.created_at, w.updated_at, w.rev = t, t, 1
    store_entry(rand, w)
    redis.call('HSET', K_X, key, rand)
    redis.call('ZADD', K_V, redis.call('HINCRBY', K_R, 'wseq', 1), rand)
    redis.call('HINCRBY', K_R, 'wl', 1)
    redis.call('ZADD', K_A, w.start and digits(w['end'] + w.buffer) or
               digits(FOREVER), rand)
    return answered(R, entry_tuple(201, R, rand, w, t))
end

local R = load_resource()
if not R then
    return err(404, 'not_found', 'no such resource', 'resource')
end

local t, us = now()

-- a replay answers what the first request got, whatever happened since
local replay = replayed(R)
if replay then
    return replay
end

-- a claim refused to a request with an Idempotency-Key: only a replay
-- may answer it, else it is the quota's refusal (the worker words it)
if A_CLAIMED == '!' then
    return err(429, 'quota', 'a quota of this user is used up', 'resource')
end

if not sweep(R, t) then
    return again()
end

if upkeep_due(us) then
    prune(R, t)
end

local rules = type_rules(R.type, A_RULES)
if not rules then
    return err(409, 'conflict', 'the type of this resource is not ' ..
               'configured any more', 'resource')
end

-- the user's max_active was claimed for the type the worker read: a PUT
-- that changed the type since makes that claim the wrong one
if A_CLAIMED ~= '' and A_CLAIMED ~= R.type then
    return err(409, 'conflict', 'the resource changed type meanwhile: ' ..
               'send the booking again', 'resource')
end

if not admitted(R, admin, user) then
    return err(403, 'forbidden', 'this resource is reserved to its groups')
end

if wait then
    if not rules.waitlist then
        return err(409, 'conflict', 'a ' .. R.type .. ' has no waitlist',
                   'resource')
    end
    if kind == 'block' then
        return err(422, 'invalid', 'a block never waits', 'kind')
    end
end

local bad = kind_refusal(R, admin, user, kind, hold, qty)
if bad then
    return bad
end

local b = { type = R.type, kind = kind, quantity = qty, user = user,
            created_at = t, updated_at = t, note = A_NOTE, gen = R.gen,
            inc = R.inc }
local score
-- the record's numbers as text, each made once: the indexes below write
-- the same ones (a string.format is a tenth of store_booking's time).
-- They are whole numbers (slot boundaries, seconds): string.format(INT)
-- is digits() without its call and test.
local start_text, end_text, buffer_text, expires_text

if R.slot == 0 then
    if A_START ~= '' or A_END ~= '' then
        return err(422, 'invalid', 'a ' .. R.type .. ' has no calendar: ' ..
                   'give no start or end', A_START ~= '' and 'start' or 'end')
    end
    local free = R.capacity - R.used
    if wait then
        if qty <= free then
            return err(409, 'conflict', 'the units are free now: book ' ..
                       'them', 'quantity')
        end
        return join(R, rand, { kind = kind, quantity = qty, user = user }, t,
                    rules)
    end
    if qty > free then
        return effects({ 'unavailable', R.capacity, 0, free })
    end
    redis.call('HINCRBY', K_R, 'used', qty)
    score = FOREVER
else
    if A_START == '' or A_END == '' then
        return err(400, 'bad_request', 'start and end are required',
                   A_START == '' and 'start' or 'end')
    end
    if rules.slot ~= R.slot then
        return err(409, 'conflict', 'the slot of ' .. R.type .. ' changed ' ..
                   'in nginx.conf: PUT the resource again', 'resource')
    end

    -- the type's clock only matters to opening hours: most resources
    -- have none, and a hold does not look for it
    local s, e = tonumber(A_START), tonumber(A_END)
    local zs, ze = 0, 0
    if R.hours ~= '' then
        zs, ze = zone_of(R.type, A_ZONES)
    end
    local field, why = range_refusal(R, rules, kind, s, e, t, zs, ze)
    if field then
        return err(422, 'invalid', why, field)
    end

    -- the buffer after the end must be free too (cleaning, handover), up
    -- to the last slot that can end by 9999-12-31: nobody can ever book
    -- past it, and no instant past it can be written
    local last = math.floor(FOREVER / R.slot) * R.slot
    local buffer = math.max(math.min(e + rules.buffer, last) - e, 0)
    local s0, s1 = s / R.slot, (e + buffer) / R.slot

    local parts = read_counters(s0, s1)
    if wait then
        if s <= t then
            return err(422, 'invalid', 'it has started: nothing to wait ' ..
                       'for', 'start')
        end
        if max_in(parts) + qty <= R.capacity then
            return err(409, 'conflict', 'the units are free now: book ' ..
                       'them', 'start')
        end
        return join(R, rand, { kind = kind, quantity = qty, user = user,
                               start = s, ['end'] = e, buffer = buffer }, t,
                    rules)
    end
    if not shift_counters(parts, qty, R.capacity) then
        -- the worker finds the runs with too few units free, in C
        return effects({ 'unavailable', R.capacity, R.slot,
                         digits(s0 * R.slot), qty, joined(parts) })
    end

    b.start, b['end'], b.buffer = s, e, buffer
    score = e + buffer
    start_text, end_text, buffer_text = string.format(INT, s),
        string.format(INT, e), string.format(INT, buffer)
end

if hold then
    b.status = 'held'
    b.expires_at = t + rules.hold
    expires_text = string.format(INT, b.expires_at)
    redis.call('ZADD', K_H, expires_text, rand)
    hold_due(R, b.expires_at)
elseif kind ~= 'block' and rules.approval then
    b.status = 'requested'
else
    b.status = 'confirmed'
end

-- a field of the record: store_booking leaves '' out
local function kept(v)
    if v ~= '' then
        return v
    end
end

-- b's record as store_booking would write it (every field set and not '',
-- as text), from the texts made once above: store_booking would make each
-- again (a string.format a number; a loop over the fields and a growing
-- table before) and the same one twice for created_at and updated_at
local now_text = string.format(INT, t)
redis.call('HSET', K_B, rand, cjson.encode({
    status = b.status, kind = kept(kind), start = start_text,
    ['end'] = end_text, buffer = buffer_text, quantity = digits(qty),
    user = kept(user), created_at = now_text, updated_at = now_text,
    expires_at = expires_text, note = kept(A_NOTE), gen = kept(R.gen),
    inc = kept(R.inc), type = kept(R.type), rev = '1' }))
redis.call('ZADD', K_A,
           score == b['end'] and end_text or string.format(INT, score), rand)

b.rev = 1
booking_event(b.status == 'held' and 'booking.held' or
              b.status == 'requested' and 'booking.requested' or
              'booking.confirmed', rand, b)

return answered(R, tuple(201, rand, b, R.slot))
