#!lua
-- POST /bookings
-- KEYS[1] bk:{r:<id>}   KEYS[2] bk:{u:<user>}:bookings (absent for guests)
-- ARGV[1] rand    [2] user      [3] kind     [4] hold (1|0)
--     [5] start   [6] end ('' on timeless)   [7] quantity    [8] note
--     [9] admin (1|0)   [10] caller's groups, comma separated
--     [11] idempotency scope and key ('' without)   [12] body fingerprint
--     [13..] the rules of each type, one line each
-- -> tuple (201) | {'unavailable', capacity, slot, start, quantity,
--    counters of the range} | {'unavailable', capacity, 0, free} | AGAIN
--    | err

local rand, user, kind = ARGV[1], ARGV[2], ARGV[3]
local hold, qty, admin = ARGV[4] == '1', tonumber(ARGV[7]), ARGV[9] == '1'

local R = load_resource()
if not R then
    return err(404, 'not_found', 'no such resource', 'resource')
end

local t, us = now()

-- a replay answers what the first request got, whatever happened since
local ik
if ARGV[11] ~= '' then
    ik = rkey('idem:' .. (R.inc ~= '' and R.inc or R.created_at) .. ':' ..
              ARGV[11])
    local prev = redis.call('HMGET', ik, 'fp', 'answer')
    if prev[1] then
        if prev[1] ~= ARGV[12] then
            return err(422, 'invalid', 'this Idempotency-Key was used ' ..
                       'with another body', 'Idempotency-Key')
        end
        local a = cjson.decode(prev[2])
        a[15] = 1
        return a
    end
end

if not sweep(R, t) then
    return again()
end

local upkeep = upkeep_due(us)
if upkeep then
    prune(R, t)
end

local rules = type_rules(R.type, 13)
if not rules then
    return err(409, 'conflict', 'the type of this resource is not ' ..
               'configured any more', 'resource')
end

-- a guest is in no group, and is nobody's owner
if R.groups ~= '' and not admin and (user == '' or user ~= R.owner) then
    local ok = false
    for g in string.gmatch(ARGV[10], '[^,]+') do
        -- "staff, members": HTTP lists put spaces after their commas
        g = string.match(g, '^%s*(.-)%s*$')
        if g ~= '' and
           string.find(',' .. R.groups .. ',', ',' .. g .. ',', 1, true) then
            ok = true
            break
        end
    end
    if not ok then
        return err(403, 'forbidden', 'this resource is reserved to its ' ..
                   'groups')
    end
end

if kind == 'block' then
    if not admin and (user == '' or user ~= R.owner) then
        return err(403, 'forbidden', 'only the owner of the resource or ' ..
                   'an admin may block it', 'kind')
    end
    if hold then
        return err(422, 'invalid', 'a block is never held', 'hold')
    end
end

if qty > R.capacity then
    return err(422, 'invalid', 'quantity is more than the capacity of ' ..
               R.capacity, 'quantity')
end

local b = { type = R.type, kind = kind, quantity = qty, user = user,
            created_at = t, updated_at = t, note = ARGV[8], gen = R.gen,
            inc = R.inc, buffer = 0, start = '', ['end'] = '',
            expires_at = '' }
local score

if R.slot == 0 then
    if ARGV[5] ~= '' or ARGV[6] ~= '' then
        return err(422, 'invalid', 'a ' .. R.type .. ' has no calendar: ' ..
                   'give no start or end', ARGV[5] ~= '' and 'start' or 'end')
    end
    local free = R.capacity - R.used
    if qty > free then
        return { 'unavailable', R.capacity, 0, free }
    end
    redis.call('HINCRBY', KEYS[1], 'used', qty)
    score = FOREVER
else
    if ARGV[5] == '' or ARGV[6] == '' then
        return err(400, 'bad_request', 'start and end are required',
                   ARGV[5] == '' and 'start' or 'end')
    end
    if rules.slot ~= R.slot then
        return err(409, 'conflict', 'the slot of ' .. R.type .. ' changed ' ..
                   'in nginx.conf: PUT the resource again', 'resource')
    end

    local s, e = tonumber(ARGV[5]), tonumber(ARGV[6])
    if s % R.slot ~= 0 then
        return err(422, 'invalid', 'start is not on a slot boundary',
                   'start')
    end
    if e % R.slot ~= 0 then
        return err(422, 'invalid', 'end is not on a slot boundary', 'end')
    end
    if e <= s then
        return err(422, 'invalid', 'end must be after start', 'end')
    end

    -- an owner's block is not held to the rules made for guests
    if kind ~= 'block' then
        if e - s < rules.min then
            return err(422, 'invalid', 'shorter than the least length ' ..
                       'of ' .. rules.min .. 's (min)', 'end')
        end
        if rules.max > 0 and e - s > rules.max then
            return err(422, 'invalid', 'longer than the most length ' ..
                       'of ' .. rules.max .. 's (max)', 'end')
        end
        if rules.lead > 0 then
            if s < t + rules.lead then
                return err(422, 'invalid', 'starts sooner than the ' ..
                           rules.lead .. 's of notice asked (lead)', 'start')
            end
        elseif s < math.floor(t / R.slot) * R.slot then
            return err(422, 'invalid', 'starts in the past', 'start')
        end
        if rules.horizon > 0 and s > t + rules.horizon then
            return err(422, 'invalid', 'starts later than the ' ..
                       rules.horizon .. 's ahead allowed (horizon)', 'start')
        end
    end

    if e - s > rules.longest then
        return err(422, 'invalid', 'longer than the longest booking of ' ..
                   rules.longest .. 's a ' .. R.type .. ' may have', 'end')
    end

    -- the buffer after the end must be free too (cleaning, handover), up
    -- to the last slot that can end before 10000-01-01: nobody can ever
    -- book past it, and no instant past it can be written
    local last = math.floor(FOREVER / R.slot) * R.slot
    local buffer = math.max(math.min(e + rules.buffer, last) - e, 0)
    local s0, s1 = s / R.slot, (e + buffer) / R.slot

    local parts = read_counters(s0, s1)
    if not shift_counters(parts, qty, R.capacity, R.slot) then
        -- the worker finds the runs with too few units free, in C
        return { 'unavailable', R.capacity, R.slot, digits(s0 * R.slot),
                 qty, joined(parts) }
    end
    b.start, b['end'], b.buffer = s, e, buffer
    score = e + buffer
end

if hold then
    b.status = 'held'
    b.expires_at = t + rules.hold
elseif kind ~= 'block' and rules.approval then
    b.status = 'requested'
else
    b.status = 'confirmed'
end

local k = bkey(rand)
local at, expires, sc = digits(t), digits(b.expires_at), digits(score)
redis.call('HSET', k, 'status', b.status, 'kind', kind, 'start',
           digits(b.start), 'end', digits(b['end']), 'quantity', digits(qty),
           'user', user, 'created_at', at, 'updated_at', at, 'expires_at',
           expires, 'note', b.note, 'gen', b.gen, 'buffer',
           digits(b.buffer), 'type', R.type, 'inc', b.inc)

-- kept until RETAIN after it ends, or after its hold would expire
if hold then
    redis.call('ZADD', rkey('holds'), expires, rand)
    redis.call('EXPIREAT', k, digits(math.min(math.max(score, b.expires_at),
                                              FOREVER) + RETAIN))
elseif score < FOREVER then
    redis.call('EXPIREAT', k, digits(score + RETAIN))
end

redis.call('ZADD', rkey('live'), sc, rand)
redis.call('ZADD', rkey('all'), sc, rand)

if KEYS[2] then
    redis.call('ZADD', KEYS[2], digits(b.start ~= '' and b.start or t),
               booking_id(rand))
    -- the upkeep drops the oldest entries whose booking is gone, up to two
    -- for each new entry since the last one, so the index stays as large
    -- as the bookings still kept
    local oldest = upkeep and redis.call('ZRANGE', KEYS[2], 0,
                                         2 * UPKEEP - 1) or {}
    for _, m in ipairs(oldest) do
        local dot = string.find(m, '%.[^.]*$')
        if redis.call('EXISTS', 'bk:{r:' .. string.sub(m, 1, dot - 1) ..
                      '}:b:' .. string.sub(m, dot + 1)) == 0 then
            redis.call('ZREM', KEYS[2], m)
        end
    end
end

local answer = tuple(201, booking_id(rand), b, R.slot)

if ik then
    redis.call('HSET', ik, 'fp', ARGV[12], 'answer', cjson.encode(answer))
    redis.call('EXPIRE', ik, IDEM_TTL)
end

return answer
