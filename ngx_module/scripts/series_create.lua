#!lua
-- POST /bookings with "repeat": the same range of one resource on every
-- occurrence of a series, each checked against every rule of the type and
-- the units free, all of them or none (skip 1: those that fit), in one
-- step; the series is a group (K_S) of bookings that carry its rand.
-- KEYS R B C K H A E D X V S (the group, by rand), I (the
--      Idempotency-Key's answer; untouched without one)
-- ARGV rand (the group's) rands (of the bookings, end to end, one per
--      occurrence) user kind hold (1|0) quantity note admin (1|0) groups
--      scope fingerprint skip (1|0) quotas (" <type> ..." of types whose
--      quotas the worker would have to claim) claimed (the type whose
--      claims the worker made, "" for none, "!" when it was refused)
--      occurrences (one line per clock: "|<type>|<type>|" then " <start>
--      <end> <offset at start> <offset at end>" for each occurrence, or
--      "!<repeat_max>" when there are more) events, then one rules line
--      per type
-- -> {'group', http, rand, 'series', replayed, code, message, field,
--    listed (the occurrences refused, a JSON array of {start, end, code,
--    message}: skipped on 201, the conflicts on 409 and 422), slot,
--    tuple...}
--    | AGAIN | err

local user, kind, qty = A_USER, A_KIND, tonumber(A_QUANTITY)
local hold, admin, skip = A_HOLD == '1', A_ADMIN == '1', A_SKIP == '1'
local R

local function answer(http, code, message, field, listed, tuples)
    local a = { 'group', http, A_RAND, 'series', 0, code, message, field,
                listed, R.slot }
    for _, v in ipairs(tuples or {}) do
        a[#a + 1] = v
    end
    return a
end

-- the occurrences on the clock of this type, or the repeat_max passed
local function occurrences(typ)
    local at = string.find(A_OCCURRENCES, '|' .. typ .. '|', 1, true)
    if not at then
        return nil
    end
    local line = string.match(A_OCCURRENCES, '|([^|\n]*)\n', at)
    local over = string.match(line, '^!(%d+)')
    if over then
        return nil, over
    end
    local list = {}
    for s, e, zs, ze in string.gmatch(line,
            ' (%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+)') do
        list[#list + 1] = { s = s + 0, e = e + 0, zs = zs + 0, ze = ze + 0 }
    end
    return list
end

R = load_resource()
if not R then
    return err(404, 'not_found', 'no such resource', 'resource')
end

local t, us = now()

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

if not admitted(R, admin, user) then
    return err(403, 'forbidden', 'this resource is reserved to its groups')
end

local bad = kind_refusal(R, admin, user, kind, hold, qty)
if bad then
    return bad
end

if R.slot == 0 then
    return err(422, 'invalid', 'a ' .. R.type .. ' has no calendar: ' ..
               'nothing repeats', 'repeat')
end

if rules.slot ~= R.slot then
    return err(409, 'conflict', 'the slot of ' .. R.type .. ' changed ' ..
               'in nginx.conf: PUT the resource again', 'resource')
end

-- the user's claims (user_claim, before this) were made on the type the
-- worker read: a PUT that changed the type since makes them the wrong ones
local claims = not admin and kind ~= 'block' and user ~= '' and
               (rules.max_active > 0 or
                string.find(A_QUOTAS .. ' ', ' ' .. R.type .. ' ', 1, true))
if (claims or A_CLAIMED ~= '') and A_CLAIMED ~= R.type then
    return err(409, 'conflict', 'the resource changed type meanwhile: ' ..
               'send the booking again', 'resource')
end

local list, over = occurrences(R.type)
if not list then
    return err(422, 'invalid', 'more than ' .. (over or '?') ..
               ' occurrences (repeat_max)', 'repeat')
end
if #list == 0 then
    return err(422, 'invalid', 'until is before the first occurrence',
               'repeat.until')
end

-- the buffer after each end, up to the last slot that can end by
-- 9999-12-31 (as booking_create); occurrences never meet, buffers
-- included, so that each one's counters are its own
local last = math.floor(FOREVER / R.slot) * R.slot
for i, o in ipairs(list) do
    o.buffer = math.max(math.min(o.e + rules.buffer, last) - o.e, 0)
    if i > 1 and o.s < list[i - 1].e + list[i - 1].buffer then
        return err(422, 'invalid', 'the occurrences overlap: make the ' ..
                   'interval longer or the range shorter', 'repeat')
    end
end

-- all of them no more counters than one booking may have
local slots = 0
for _, o in ipairs(list) do
    slots = slots + (o.e + o.buffer - o.s) / R.slot
end
if slots > GROUP_SLOTS then
    return err(422, 'invalid', 'the occurrences span more than ' ..
               GROUP_SLOTS .. ' slots together', 'repeat')
end

-- every occurrence checked before any is booked
local refused, invalid, fits = {}, nil, 0
for _, o in ipairs(list) do
    local field, why = range_refusal(R, rules, kind, o.s, o.e, t, o.zs, o.ze)
    if field then
        o.code, o.why = 'invalid', why
        invalid = invalid or { field = field, why = why, s = o.s }
    elseif max_in(read_counters(o.s / R.slot, (o.e + o.buffer) / R.slot))
           + qty > R.capacity then
        o.code, o.why = 'unavailable', 'too few units free'
    else
        fits = fits + 1
    end
    if o.code then
        refused[#refused + 1] = cjson.encode({
            start = instant_text(o.s, R.slot),
            ['end'] = instant_text(o.e, R.slot), code = o.code,
            message = o.why })
    end
end

local listed = #refused > 0 and '[' .. table.concat(refused, ',') .. ']' or ''

if fits == 0 or (#refused > 0 and not skip) then
    if invalid and not skip then
        return effects(answer(422, 'invalid', 'an occurrence at ' ..
                              rfc3339(invalid.s) .. ': ' .. invalid.why,
                              invalid.field, listed))
    end
    return effects(answer(409, 'unavailable', #refused .. ' of the ' ..
                          #list .. ' occurrences do not fit', '', listed))
end

local status = hold and 'held' or
               (kind ~= 'block' and rules.approval and 'requested') or
               'confirmed'
local expires = hold and t + rules.hold or nil
local rlen = #A_RAND
local rands, tuples, final = {}, {}, 0

for i, o in ipairs(list) do
    if not o.code then
        local rand = string.sub(A_RANDS, (i - 1) * rlen + 1, i * rlen)
        shift_counters(read_counters(o.s / R.slot, (o.e + o.buffer) / R.slot),
                       qty, R.capacity)
        local b = { type = R.type, kind = kind, quantity = qty, user = user,
                    created_at = t, updated_at = t, note = A_NOTE,
                    gen = R.gen, inc = R.inc, start = o.s, ['end'] = o.e,
                    buffer = o.buffer, status = status, expires_at = expires,
                    group = booking_id(A_RAND), rev = 1 }
        store_booking(rand, b)
        redis.call('ZADD', K_A, digits(o.e + o.buffer), rand)
        if hold then
            redis.call('ZADD', K_H, digits(expires), rand)
        end
        booking_event('booking.' .. status, rand, b)
        rands[#rands + 1] = rand
        tuples[#tuples + 1] = tuple(201, rand, b, R.slot)
        final = math.max(final, o.e + o.buffer)
    end
end

if hold then
    hold_due(R, expires)
end

redis.call('SET', K_S, cjson.encode({ kind = 'series', user = user,
                                      rands = table.concat(rands, ' '),
                                      skipped = listed, created_at = t }))
redis.call('EXPIREAT', K_S, final + RETAIN)

return answered(R, answer(201, '', '', '', listed, tuples))
