#!lua
-- PUT /resources/{id}
-- KEYS[1] bk:{r:<id>}
-- ARGV[1] doc   [2] type   [3] slot (seconds, 0: timeless)   [4] capacity
--     [5] owner ('' for none)   [6] groups, comma separated
--     [7] lat   [8] lon ('' when it has no location)
-- -> {'ok', created (1|0), doc, created_at, updated_at} | AGAIN | err
--
-- The listing indexes of its type, bk:{t:<type>}:ids and bk:{t:<type>}:geo,
-- change with it, atomically: this needs a single Redis (not Cluster).

local doc, typ = ARGV[1], ARGV[2]
local slot, cap = tonumber(ARGV[3]), tonumber(ARGV[4])
local t, us = now()

local R = load_resource()

local function index(old)
    local id = string.sub(KEYS[1], 7, -2)
    if old and old ~= typ then
        redis.call('ZREM', 'bk:{t:' .. old .. '}:ids', id)
        redis.call('ZREM', 'bk:{t:' .. old .. '}:geo', id)
    end
    redis.call('ZADD', 'bk:{t:' .. typ .. '}:ids', 0, id)
    if ARGV[7] ~= '' then
        redis.call('GEOADD', 'bk:{t:' .. typ .. '}:geo', ARGV[8], ARGV[7], id)
    else
        redis.call('ZREM', 'bk:{t:' .. typ .. '}:geo', id)
    end
end

if not R then
    redis.call('HSET', KEYS[1], 'doc', doc, 'type', typ, 'slot', slot,
               'capacity', cap, 'used', 0, 'gen', stamp(t, us),
               'inc', stamp(t, us), 'owner', ARGV[5], 'groups', ARGV[6],
               'created_at', t, 'updated_at', t)
    index(nil)
    return { 'ok', 1, doc, tostring(t), tostring(t) }
end

if not sweep(R, t) then
    return again()
end
prune(R, t)

local gen = R.gen

if R.type ~= typ or R.slot ~= slot then
    if live_after(t) > 0 then
        return err(409, 'conflict', 'the type cannot change while ' ..
                   'bookings that have not ended exist', 'type')
    end
    -- counters of another slot length mean nothing any more, and bookings
    -- of the old generation no longer touch them
    drop_counters()
    gen = stamp(t, us)
    redis.call('HSET', KEYS[1], 'used', 0)
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

redis.call('HSET', KEYS[1], 'doc', doc, 'type', typ, 'slot', slot,
           'capacity', cap, 'gen', gen, 'owner', ARGV[5], 'groups', ARGV[6],
           'updated_at', t)
index(R.type)

return { 'ok', 0, doc, R.created_at, tostring(t) }
