#!lua
-- POST /bookings/{id}/confirm | cancel | approve | decline
-- KEYS[1] bk:{r:<id>}
-- ARGV[1] op   [2] rand   [3] user   [4] admin (1|0)   [5] token (1|0)
--     [6..] the rules of each type, one line each
-- -> tuple (200) | AGAIN | err
--
-- It acts on this exact booking and its current status, so a late confirm
-- of a hold that expired and whose units were sold again fails (410) and
-- never takes the new holder's units.

local op, rand, user = ARGV[1], ARGV[2], ARGV[3]
local admin, token = ARGV[4] == '1', ARGV[5] == '1'

local R = load_resource()
if not R then
    return err(404, 'not_found', 'no such booking')
end

local t, us = now()
if not sweep(R, t) then
    return again()
end
if upkeep_due(us) then
    prune(R, t)
end

local b = load_booking(R, rand)
if not b then
    return err(404, 'not_found', 'no such booking')
end

local owner = user ~= '' and user == b.user
local host = user ~= '' and user == R.owner
local allowed

if op == 'confirm' then
    allowed = admin or owner or token
elseif op == 'cancel' then
    allowed = admin or owner or host or token
else
    allowed = admin or host
end

if not allowed then
    if owner or host or token then
        return err(403, 'forbidden', 'you may not ' .. op ..
                   ' this booking')
    end
    -- whether the booking exists is not revealed to strangers
    return err(404, 'not_found', 'no such booking')
end

local k = bkey(rand)
local st = b.status

local function set(status)
    b.status, b.updated_at = status, t
    redis.call('HSET', k, 'status', status, 'updated_at', digits(t))
end

local function keep_until_ended()
    if b['end'] == '' then
        redis.call('PERSIST', k)
    else
        redis.call('EXPIREAT', k, digits(tonumber(b['end']) +
                                         tonumber(b.buffer) + RETAIN))
    end
end

local function cannot()
    return err(409, 'conflict', 'a ' .. st .. ' booking cannot be ' ..
               (op == 'cancel' and 'cancelled' or op == 'approve' and
                'approved' or op == 'decline' and 'declined' or
                'confirmed'))
end

if op == 'confirm' then
    if st == 'held' then
        local rules = type_rules(b.type, 6)
        set((rules and rules.approval and b.kind ~= 'block') and
            'requested' or 'confirmed')
        redis.call('ZREM', rkey('holds'), rand)
        keep_until_ended()
    elseif st == 'expired' then
        return err(410, 'expired', 'the hold expired before it was ' ..
                   'confirmed')
    elseif st ~= 'confirmed' and st ~= 'requested' then
        return cannot()
    end
elseif op == 'cancel' then
    if st == 'held' or st == 'requested' or st == 'confirmed' then
        release(R, rand, b, t)
        set('cancelled')
        redis.call('ZREM', rkey('holds'), rand)
        redis.call('EXPIREAT', k, t + RETAIN)
    elseif st ~= 'cancelled' then
        return cannot()
    end
elseif op == 'approve' then
    if st == 'requested' then
        set('confirmed')
        redis.call('HSET', k, 'approved', 1)
    elseif st ~= 'confirmed' or
           redis.call('HGET', k, 'approved') ~= '1' then
        -- approving again what was approved is a repeat; a booking that
        -- was never requested was never approved
        return cannot()
    end
elseif op == 'decline' then
    if st == 'requested' then
        release(R, rand, b, t)
        set('declined')
        redis.call('EXPIREAT', k, t + RETAIN)
    elseif st ~= 'declined' then
        return cannot()
    end
else
    return err(404, 'not_found', 'no such route')
end

return tuple(200, booking_id(rand), b, R.slot)
