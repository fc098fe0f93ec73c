#!lua
-- GET /groups/{id}, POST /groups/{id}/confirm | cancel: every booking of
-- the group in one step, so that a group is never left half changed.
-- KEYS R B C K H A E D X V S (the group)
-- ARGV op (get|confirm|cancel) rand (the group's) user admin (1|0) token
--      (1|0: the group's token came) events, then one rules line per type
-- -> {'group', http, rand, kind, 0, '', '', '', skipped, slot, tuple...}
--    | AGAIN | err
--
-- A confirm confirms every held booking or none (410 when one of them
-- expired); a cancel cancels every booking of a group, and those of a
-- series that have not started, leaving the past as it was.

local op, user = A_OP, A_USER
local admin, token = A_ADMIN == '1', A_TOKEN == '1'

local R = load_resource()
local g = R and redis.call('GET', K_S)
if not g then
    return err(404, 'not_found', 'no such group')
end
g = cjson.decode(g)

local t, us = now()
if op ~= 'get' then
    if not sweep(R, t) then
        return again()
    end
    if upkeep_due(us) then
        prune(R, t)
    end
end

local owner = user ~= '' and user == g.user
local host = user ~= '' and user == R.owner
local allowed

if op == 'confirm' then
    allowed = admin or owner or token
else
    allowed = admin or owner or host or token
end

if not allowed then
    if owner or host or token then
        return err(403, 'forbidden', 'you may not ' .. op .. ' this group')
    end
    -- whether the group exists is not revealed to strangers
    return err(404, 'not_found', 'no such group')
end

local items = {}
for rand in string.gmatch(g.rands, '%S+') do
    local b = load_booking(R, rand)
    if b then
        items[#items + 1] = { rand = rand, b = as_of(b, t) }
    end
end

local function set(it, status)
    local b = it.b
    b.status, b.updated_at = status, t
    next_rev(b)
    store_booking(it.rand, b)
    booking_event('booking.' .. status, it.rand, b)
end

if op == 'confirm' then
    for _, it in ipairs(items) do
        local st = it.b.status
        if st == 'expired' then
            return err(410, 'expired', 'a hold of the group expired ' ..
                       'before it was confirmed: ' .. booking_id(it.rand))
        elseif st ~= 'held' and st ~= 'confirmed' and st ~= 'requested' then
            return err(409, 'conflict', 'a ' .. st .. ' group cannot be ' ..
                       'confirmed')
        end
    end
    for _, it in ipairs(items) do
        if it.b.status == 'held' then
            set(it, (type_approval(it.b.type, A_RULES) and
                     it.b.kind ~= 'block') and 'requested' or 'confirmed')
            redis.call('ZREM', K_H, it.rand)
        end
    end
elseif op == 'cancel' then
    local freed = false
    for _, it in ipairs(items) do
        local b, st = it.b, it.b.status
        if (st == 'held' or st == 'requested' or st == 'confirmed') and
           (g.kind ~= 'series' or not b.start or tonumber(b.start) > t) then
            release(R, it.rand, b, t)
            set(it, 'cancelled')
            redis.call('ZREM', K_H, it.rand)
            offer_ended(R, it.rand, b, t)
            freed = true
        end
    end
    if freed then
        serve(R, t)
    end
elseif op ~= 'get' then
    return err(404, 'not_found', 'no such route')
end

local a = { 'group', 200, A_RAND, g.kind, 0, '', '', '', g.skipped or '',
            R.slot }
for _, it in ipairs(items) do
    a[#a + 1] = tuple(200, it.rand, it.b, R.slot)
end
return effects(a)
