#!lua
-- POST /bookings with "items": every item booked, or none, in one step.
-- Items may be of any resources and types; their keys are given one
-- resource after another, so the step is one script on one Redis (and in
-- a Cluster, when their hash slots are one: README, "Groups of items").
-- KEYS S (the group, by rand: with the first item's resource) I (the
--      Idempotency-Key's answer) then R B C K H A E D X V of the first
--      item's resource, and the same ten of each next item's
-- ARGV rand (the group's) rands (of the bookings, end to end, one per
--      item) user kind hold (1|0) note admin (1|0) groups scope
--      fingerprint quotas (" <type> ..." of types whose quotas the worker
--      would have to claim) claimed (the type each item's claims were
--      made for, "-" for none, one after another; "!" when refused)
--      spread ("" for a group of one hash slot; else this part of a
--      group across slots: "P" on the primary, then the group's id, how
--      long its pins last without hold, the latest end of every part's
--      items with its buffer; "S" on another, the group's id, until when
--      they last (the primary's); then the items' places in the request
--      ("0,2"), and on the primary a line of ids a part)
--      items (a line per item: "<start> <end> <quantity>",
--      '-' for the start and end of timeless stock, then its zones:
--      " <type>:<offset at start>:<offset at end>" for each type with a
--      tz) events, then one rules line per type
-- -> {'group', http, rand, 'items', replayed, code, message, field,
--    listed (on 409: a JSON array of {index, resource, start, end, free}
--    for every item that did not fit), slot, tuple...} | AGAIN | err

local user, kind = A_USER, A_KIND
local hold, admin = A_HOLD == '1', A_ADMIN == '1'

-- item k's resource: its keys in the places every function reads them
local function use(k)
    use_keys(2 + (k - 1) * 10)
end

local function answer(http, code, message, field, listed, tuples)
    local a = { 'group', http, A_RAND, 'items', 0, code, message, field,
                listed, 0 }
    for _, v in ipairs(tuples or {}) do
        a[#a + 1] = v
    end
    return a
end

if kind == 'block' and hold then
    return err(422, 'invalid', 'a block is never held', 'hold')
end

local items = {}
for s, e, q, zones in string.gmatch(A_ITEMS,
                                    '([%-%d]+) ([%-%d]+) (%d+)([^\n]*)\n') do
    items[#items + 1] = { s = tonumber(s), e = tonumber(e), q = q + 0,
                          zones = zones }
end

-- a part of a group whose items span hash slots: its items are held
-- pinned, for the group's primary to decide (README, "Groups of items")
local spread
if A_SPREAD ~= '' then
    local role, grp, till, last, idx, members = string.match(A_SPREAD,
        '^([PS]) (%S+) (%d+) ?(%d*) ([%d,]+)\n?(.*)$')
    if not role or (role == 'P') ~= (last ~= '') then
        return err(400, 'bad_request', 'a part of a group is not told ' ..
                   'as one', 'items')
    end
    spread = { primary = role == 'P', group = grp, till = till + 0,
               last = tonumber(last) or 0, members = members, index = {} }
    for i in string.gmatch(idx, '%d+') do
        spread.index[#spread.index + 1] = i + 0
    end
end

-- an item's place in the request
local function ix(k)
    return spread and spread.index[k] or k - 1
end

if #items < (spread and 1 or 2) or #KEYS ~= 2 + 10 * #items then
    return err(400, 'bad_request', 'items do not match their keys', 'items')
end

local t, us = now()

-- the type each item's claims were made for
local claims = {}
for name in string.gmatch(A_CLAIMED, '%S+') do
    claims[#claims + 1] = name
end

-- each resource once, however many items it has: what one item does to
-- it (used, due) the next one sees
local Rs = {}

use(1)
local R0 = load_resource()
if R0 then
    local replay = replayed(R0)
    if replay then
        return replay
    end
end

-- a claim refused to a request with an Idempotency-Key: only a replay
-- may answer it, else it is the quota's refusal (the worker words it)
if A_CLAIMED == '!' then
    return err(429, 'quota', 'a quota of this user is used up', 'items')
end

-- every item checked before any is booked
for k, it in ipairs(items) do
    use(k)
    local R = Rs[K_R] or load_resource()
    if not R then
        return err(404, 'not_found', 'no such resource: ' .. RID, 'items')
    end
    if not Rs[K_R] then
        Rs[K_R] = R
        if not sweep(R, t) then
            return again()
        end
    end
    it.R = R
    local rules = type_rules(R.type, A_RULES)
    if not rules then
        return err(409, 'conflict', 'the type of ' .. RID .. ' is not ' ..
                   'configured any more', 'items')
    end
    it.rules = rules
    if not admitted(R, admin, user) then
        return err(403, 'forbidden', RID .. ' is reserved to its groups')
    end
    if kind == 'block' and not admin and (user == '' or user ~= R.owner) then
        return err(403, 'forbidden', 'only the owner of ' .. RID ..
                   ' or an admin may block it', 'kind')
    end
    -- the user's claims (user_claim, before this) were made on the type
    -- the worker read: a PUT that changed it since makes them the wrong
    -- ones
    local claimed = claims[k] or '-'
    if (not admin and kind ~= 'block' and user ~= '' and
        (rules.max_active > 0 or
         string.find(A_QUOTAS .. ' ', ' ' .. R.type .. ' ', 1, true))
        or claimed ~= '-') and claimed ~= R.type then
        return err(409, 'conflict', RID .. ' changed type meanwhile: ' ..
                   'send the booking again', 'items')
    end
    if it.q > R.capacity then
        return err(422, 'invalid', 'item ' .. ix(k) .. ': quantity is ' ..
                   'more than the capacity of ' .. R.capacity, 'items')
    end
    if R.slot == 0 then
        if it.s then
            return err(422, 'invalid', 'item ' .. ix(k) .. ': a ' ..
                       R.type .. ' has no calendar: give no start or end',
                       'items')
        end
    else
        if not it.s or not it.e then
            return err(400, 'bad_request', 'item ' .. ix(k) .. ': start ' ..
                       'and end are required', 'items')
        end
        if rules.slot ~= R.slot then
            return err(409, 'conflict', 'the slot of ' .. R.type ..
                       ' changed in nginx.conf: PUT ' .. RID .. ' again',
                       'items')
        end
        local field, why = range_refusal(R, rules, kind, it.s, it.e, t,
                                         zone_of(R.type, it.zones))
        if field then
            return err(422, 'invalid', 'item ' .. ix(k) .. ': ' .. why,
                       'items')
        end
        local last = math.floor(FOREVER / R.slot) * R.slot
        it.buffer = math.max(math.min(it.e + rules.buffer, last) - it.e, 0)
    end
end

-- all of them no more counters than one booking may have
local slots = 0
for _, it in ipairs(items) do
    if it.s then
        slots = slots + (it.e + it.buffer - it.s) / it.R.slot
    end
end
if slots > GROUP_SLOTS then
    return err(422, 'invalid', 'the items span more than ' .. GROUP_SLOTS ..
               ' slots together', 'items')
end

-- then taken in order, so that two items of one resource count each
-- other; one that does not fit is named, and every one taken is given
-- back
local refused, taken = {}, {}
for k, it in ipairs(items) do
    use(k)
    local R, free = it.R, nil
    if R.slot == 0 then
        free = R.capacity - R.used
        if it.q <= free then
            redis.call('HINCRBY', K_R, 'used', it.q)
            R.used = R.used + it.q
            free = nil
        end
    else
        local parts = read_counters(it.s / R.slot, (it.e + it.buffer) / R.slot)
        if not shift_counters(parts, it.q, R.capacity) then
            free = math.max(R.capacity - max_in(parts), 0)
        end
    end
    if free then
        refused[#refused + 1] = cjson.encode({ index = ix(k),
            resource = RID, free = free,
            start = it.s and instant_text(it.s, R.slot) or nil,
            ['end'] = it.e and instant_text(it.e, R.slot) or nil })
    else
        taken[#taken + 1] = k
    end
end

if #refused > 0 then
    for _, k in ipairs(taken) do
        local it = items[k]
        use(k)
        if it.R.slot == 0 then
            redis.call('HINCRBY', K_R, 'used', -it.q)
            it.R.used = it.R.used - it.q
        else
            shift_counters(read_counters(it.s / it.R.slot,
                                         (it.e + it.buffer) / it.R.slot),
                           -it.q)
        end
    end
    return effects(answer(409, 'unavailable', #refused .. ' of the ' ..
                          #items .. ' items do not fit', '',
                          '[' .. table.concat(refused, ',') .. ']'))
end

local rlen = #A_RAND
local ids, tuples, final = {}, {}, 0
use(1)
local gid = spread and spread.group or booking_id(A_RAND)
local part, deadline = RID, FOREVER

for k, it in ipairs(items) do
    use(k)
    local R, rules = it.R, it.rules
    local rand = string.sub(A_RANDS, (k - 1) * rlen + 1, k * rlen)
    local b = { type = R.type, kind = kind, quantity = it.q, user = user,
                created_at = t, updated_at = t, note = A_NOTE, gen = R.gen,
                inc = R.inc, start = it.s, ['end'] = it.e,
                buffer = it.buffer, group = gid, rev = 1 }
    if spread then
        b.status, b.pin = 'held', part
        if spread.primary then
            b.expires_at = t + (hold and rules.hold or spread.till)
        else
            b.expires_at = spread.till
        end
        deadline = math.min(deadline, b.expires_at)
        redis.call('ZADD', K_H, digits(b.expires_at), rand)
        hold_due(R, b.expires_at)
    elseif hold then
        b.status, b.expires_at = 'held', t + rules.hold
        redis.call('ZADD', K_H, digits(b.expires_at), rand)
        hold_due(R, b.expires_at)
    elseif kind ~= 'block' and rules.approval then
        b.status = 'requested'
    else
        b.status = 'confirmed'
    end
    store_booking(rand, b)
    redis.call('ZADD', K_A, it.s and digits(it.e + it.buffer) or
               digits(FOREVER), rand)
    booking_event('booking.' .. b.status, rand, b)
    ids[#ids + 1] = booking_id(rand)
    tuples[#tuples + 1] = tuple(201, rand, b, R.slot)
    final = math.max(final, it.s and it.e + it.buffer + RETAIN or FOREVER)
end

-- the group's record, with the first item's resource, kept as long as
-- its bookings are
-- a spread group's: every part's says whose it is; the primary's holds
-- the decision (pending until its deadline), the ids of every part, and
-- is kept as long as the bookings of every part are, not its own only
use(1)
local g = { kind = 'items', user = user, ids = table.concat(ids, ' '),
            created_at = t }
if spread then
    g.spread = spread.group
    if spread.primary then
        g.state, g.deadline, g.members = 'pending', deadline, spread.members
        g.hold = hold and '1' or '0'
        final = math.max(final, math.min(spread.last + RETAIN, FOREVER))
    end
end
redis.call('SET', K_S, cjson.encode(g))
redis.call('EXPIREAT', K_S, final)

return answered(items[1].R, answer(201, '', '', '', '', tuples))
