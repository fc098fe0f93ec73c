#!lua
-- GET /groups/{id}, POST /groups/{id}/confirm | cancel: every booking of
-- the group in one step, so that a group is never left half changed.
-- KEYS R B C K H A E D X V S (the group), then for a group of items the
--      ten of each item's resource, R to V, in the group's order (the
--      worker learns them from this script's first answer)
-- ARGV op (get|confirm|cancel) rand (the group's) user admin (1|0) token
--      (1|0: the group's token came) events, then one rules line per type
-- -> {'group', http, rand, kind, 0, '', '', '', skipped, slot, tuple...}
--    | {'keys', id...} (a group of items, sent without their keys)
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

-- A group whose items span hash slots: its primary's record decides, in
-- one step, what the group is (pending until its deadline, then
-- confirmed, cancelled, expired or aborted: final, but for the cancel of
-- a confirmed one), by the primary's clock alone; then the worker settles
-- each part as the decision says ("part-" ops, the worker's own).
local part_op = string.match(op, '^part%-(%a+)$')
if part_op and not g.spread then
    return err(404, 'not_found', 'no such group')
end

if g.spread and not part_op then
    local t = now()
    local internal = op == 'commit' or op == 'abort' or op == 'resolve'
    if not g.state or not (internal or admin or token or
                           (user ~= '' and user == g.user)) then
        -- a part is no group of its own; strangers learn nothing
        return err(404, 'not_found', 'no such group')
    end
    local st = g.state
    if st == 'pending' then
        if op == 'commit' or op == 'confirm' then
            st = t < tonumber(g.deadline) and 'confirmed' or 'expired'
        elseif op == 'cancel' then
            st = 'cancelled'
        elseif op == 'abort' then
            st = 'aborted'
        elseif t >= tonumber(g.deadline) then
            st = 'expired'
        end
    elseif st == 'confirmed' and op == 'cancel' then
        st = 'cancelled'
    end
    if st ~= g.state then
        g.state, g.decided_at = st, t
        redis.call('SET', K_S, cjson.encode(g), 'KEEPTTL')
    end
    return { 'spread', st, g.hold, g.members }
end
if part_op then
    op = part_op
end

-- a group of items: one resource after another, each with its keys
local function use(k)
    use_keys(11 + (k - 1) * 10)
end

local list = {}
if g.kind == 'items' then
    for id in string.gmatch(g.ids, '%S+') do
        list[#list + 1] = id
    end
    if #KEYS == 11 then
        local a = { 'keys' }
        for i, id in ipairs(list) do
            a[i + 1] = id
        end
        return a
    end
    if #KEYS ~= 11 + 10 * #list then
        return err(400, 'bad_request', 'the keys are not the group\'s')
    end
end

local t, us = now()
local Rs = {}

-- each booking of the group, with its resource (swept once)
local items = {}
local function item(k, rand)
    local r = R
    if g.kind == 'items' then
        use(k)
        local rid
        rid, rand = string.match(list[k], '^(.*)%.([^.]+)$')
        if rid ~= RID then
            return err(400, 'bad_request', 'the keys are not the group\'s')
        end
        r = Rs[K_R] or load_resource()
    end
    if not r then
        return nil
    end
    if op ~= 'get' and not Rs[K_R] then
        if not sweep(r, t) then
            return again()
        end
    end
    Rs[K_R] = r
    local b = load_booking(r, rand)
    if b then
        items[#items + 1] = { k = k, rand = rand, R = r, b = as_of(b, t) }
    end
    return nil
end

if g.kind == 'items' then
    for k = 1, #list do
        local stop = item(k)
        if stop then
            return stop
        end
    end
else
    for rand in string.gmatch(g.rands, '%S+') do
        local stop = item(1, rand)
        if stop then
            return stop
        end
    end
end

-- the host of a group is the owner of every resource of it: the owner of
-- one home of a swap does not cancel the other's
local owner = user ~= '' and user == g.user
local host = user ~= '' and next(Rs) ~= nil
for _, r in pairs(Rs) do
    host = host and user == r.owner
end
local allowed

if part_op then
    allowed = true
elseif op == 'confirm' then
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

-- an item's resource, to change it
local function at(it)
    if g.kind == 'items' then
        use(it.k)
    end
    return it.R
end

local function set(it, status)
    local b = it.b
    b.status, b.updated_at, b.pin = status, t, nil
    next_rev(b)
    store_booking(it.rand, b)
    booking_event('booking.' .. status, it.rand, b)
end

if part_op == 'confirm' or part_op == 'expire' or part_op == 'abort' then
    -- the decision is made: its pinned holds become what it says, the
    -- rest stays as it is
    local served = {}
    for _, it in ipairs(items) do
        local b = it.b
        if b.pin and b.status == 'held' then
            local r = at(it)
            if part_op == 'confirm' then
                set(it, (type_approval(b.type, A_RULES) and
                         b.kind ~= 'block') and 'requested' or 'confirmed')
            else
                release(r, it.rand, b, t)
                set(it, part_op == 'expire' and 'expired' or 'cancelled')
                served[r] = true
            end
            redis.call('ZREM', K_H, it.rand)
        end
    end
    for _, it in ipairs(items) do
        local r = at(it)
        if served[r] then
            served[r] = nil
            serve(r, t)
        end
    end
elseif op == 'confirm' then
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
            at(it)
            set(it, (type_approval(it.b.type, A_RULES) and
                     it.b.kind ~= 'block') and 'requested' or 'confirmed')
            redis.call('ZREM', K_H, it.rand)
        end
    end
elseif op == 'cancel' then
    local freed = {}
    for _, it in ipairs(items) do
        local b, st = it.b, it.b.status
        if (st == 'held' or st == 'requested' or st == 'confirmed') and
           (g.kind ~= 'series' or not b.start or tonumber(b.start) > t) then
            local r = at(it)
            release(r, it.rand, b, t)
            set(it, 'cancelled')
            redis.call('ZREM', K_H, it.rand)
            offer_ended(r, it.rand, b, t)
            freed[#freed + 1] = it
        end
    end
    -- the waiting lines of the resources freed, each once
    local served = {}
    for _, it in ipairs(freed) do
        local r = at(it)
        if not served[r] then
            served[r] = true
            serve(r, t)
        end
    end
elseif op ~= 'get' then
    return err(404, 'not_found', 'no such route')
end

local a = { 'group', 200, A_RAND, g.kind, 0, '', '', '', g.skipped or '',
            R and R.slot or 0 }
for _, it in ipairs(items) do
    at(it)
    a[#a + 1] = tuple(200, it.rand, it.b, it.R.slot)
end
return effects(a)
