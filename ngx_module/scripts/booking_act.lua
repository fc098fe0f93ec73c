#!lua
-- POST /bookings/{id}/confirm | cancel | approve | decline | extend
-- KEYS R B C K H A E D X V (its waitlist: served when units are freed)
-- ARGV op rand user admin (1|0) token (1|0), events (booking_events_maxlen
--      of a stream, '' when off), then one rules line per type (from
--      A_RULES on)
-- -> tuple (200) | AGAIN | err
--
-- It acts on this exact booking and its current status, so a late confirm
-- of a hold that expired and whose units were sold again fails (410) and
-- never takes the new holder's units.

local op, rand, user = A_OP, A_RAND, A_USER
local admin, token = A_ADMIN == '1', A_TOKEN == '1'

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

if op == 'confirm' or op == 'extend' then
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

-- a group changes as a whole or not at all; only its resources' owners
-- decide on their own item (approve, decline), as they would alone
if b.group and op ~= 'approve' and op ~= 'decline' then
    return err(409, 'conflict', 'this booking belongs to the group ' ..
               b.group .. ': act on the group')
end

local st = b.status

local function set(status, event)
    b.status, b.updated_at = status, t
    next_rev(b)
    store_booking(rand, b)
    booking_event(event or 'booking.' .. status, rand, b)
end

local function cannot()
    return err(409, 'conflict', 'a ' .. st .. ' booking cannot be ' ..
               (op == 'cancel' and 'cancelled' or op == 'approve' and
                'approved' or op == 'decline' and 'declined' or
                op == 'extend' and 'extended' or 'confirmed'))
end

if op == 'confirm' then
    if st == 'held' then
        set((type_approval(b.type, A_RULES) and b.kind ~= 'block') and
            'requested' or 'confirmed')
        redis.call('ZREM', K_H, rand)
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
        redis.call('ZREM', K_H, rand)
        offer_ended(R, rand, b, t)
        serve(R, t)
    elseif st ~= 'cancelled' then
        return cannot()
    end
elseif op == 'approve' then
    if st == 'requested' then
        b.approved = '1'
        set('confirmed')
    elseif st ~= 'confirmed' or b.approved ~= '1' then
        -- approving again what was approved is a repeat; a booking that
        -- was never requested was never approved
        return cannot()
    end
elseif op == 'decline' then
    if st == 'requested' then
        release(R, rand, b, t)
        set('declined')
        offer_ended(R, rand, b, t)
        serve(R, t)
    elseif st ~= 'declined' then
        return cannot()
    end
elseif op == 'extend' then
    -- now + hold, never past created_at + hold_max: a hold is stretched
    -- while its buyer pays, not kept forever by asking again
    if st == 'expired' then
        return err(410, 'expired', 'the hold expired before it was ' ..
                   'extended')
    elseif st ~= 'held' then
        return cannot()
    end
    local rules = type_rules(b.type, A_RULES)
    if not rules then
        return err(409, 'conflict', 'the type of this booking is not ' ..
                   'configured any more')
    end
    local cap = tonumber(b.created_at) + rules.hold_max
    local was = tonumber(b.expires_at)
    if was >= cap then
        return err(409, 'conflict', 'the hold is already as long as ' ..
                   'it may be (hold_max)')
    end
    local e = math.min(t + rules.hold, cap)
    if e > was then
        b.expires_at = e
        redis.call('ZADD', K_H, digits(e), rand)
        set('held', 'booking.extended')
    end
else
    return err(404, 'not_found', 'no such route')
end

return effects(tuple(200, rand, b, R.slot))
