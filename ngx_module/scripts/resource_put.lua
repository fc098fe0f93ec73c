#!lua
-- PUT /resources/{id}
-- KEYS R B C K H A E D X V
-- ARGV doc type slot capacity owner groups lat lon hours (the opening
--      hours' compact form, '' without) events
--      (booking_events_maxlen of a stream, '' when off), then one rules
--      line per type (from A_RULES on)
-- -> {'ok', created (1|0), doc, created_at, updated_at, type it had ('')}
--    | AGAIN | err
--
-- The listing indexes of its types are keys of their own hash tags: the
-- worker keeps them in a step of its own once this has answered
-- (type_index), from the type it had and the location it has now, which
-- are kept here ("lat", "lon") so that the index can be made again from
-- the resource alone.

local doc, typ = A_DOC, A_TYPE
local slot, cap = tonumber(A_SLOT), tonumber(A_CAPACITY)
local t, us = now()

local R = load_resource()

if not R then
    redis.call('HSET', K_R, 'doc', doc, 'type', typ, 'slot', A_SLOT,
               'capacity', A_CAPACITY, 'used', 0, 'gen', stamp(t, us),
               'inc', stamp(t, us), 'owner', A_OWNER, 'groups', A_GROUPS,
               'created_at', digits(t), 'updated_at', digits(t),
               'due', digits(FOREVER), 'lat', A_LAT, 'lon', A_LON,
               'hours', A_HOURS)
    resource_event('resource.created', typ, t)
    return effects({ 'ok', 1, doc, digits(t), digits(t), '' })
end

if not sweep(R, t) then
    return again()
end

prune(R, t)

local gen = R.gen

if R.type ~= typ or R.slot ~= slot then
    if in_use(R, t) then
        return err(409, 'conflict', 'the type cannot change while ' ..
                   'bookings that have not ended exist', 'type')
    end
    -- counters of another slot length mean nothing any more, and bookings
    -- of the old generation no longer touch them
    drop_counters()
    gen = stamp(t, us)
    redis.call('HSET', K_R, 'used', 0)
    -- the waiting line waited for counters that are gone: it lapses
    R.gen, R.freed = gen, { all = true }
elseif cap < R.capacity then
    local used
    if slot == 0 then
        used = R.used
    else
        used = max_used_from(math.floor(t / slot))
    end
    if used > cap then
        return err(409, 'conflict', used .. ' units are booked: the ' ..
                   'capacity cannot go below that', 'capacity')
    end
end

redis.call('HSET', K_R, 'doc', doc, 'type', typ, 'slot', A_SLOT,
           'capacity', A_CAPACITY, 'gen', gen, 'owner', A_OWNER,
           'groups', A_GROUPS, 'updated_at', digits(t), 'lat', A_LAT,
           'lon', A_LON, 'hours', A_HOURS)
resource_event('resource.replaced', typ, t)

-- a raised capacity frees units: the waiting line has them first
if cap > R.capacity then
    R.freed = { all = true }
end
R.capacity, R.slot = cap, slot
serve(R, t)

return effects({ 'ok', 0, doc, R.created_at, digits(t), R.type })
