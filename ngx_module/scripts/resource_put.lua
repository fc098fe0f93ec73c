-- PUT /resources/{id}
-- KEYS[1] bk:{r:<id>}
-- ARGV doc, type, slot (seconds, 0: timeless), capacity
-- -> {'ok', created (1|0), doc, created_at, updated_at} | err

local doc, typ = ARGV[1], ARGV[2]
local slot, cap = tonumber(ARGV[3]), tonumber(ARGV[4])
local t = now()
local r = KEYS[1]

local old = redis.call('HMGET', r, 'type', 'slot', 'capacity', 'created_at',
                       'used', 'gen')

if not old[1] then
    redis.call('HSET', r, 'doc', doc, 'type', typ, 'slot', slot,
               'capacity', cap, 'used', 0, 'gen', 1,
               'created_at', t, 'updated_at', t)
    return { 'ok', 1, doc, tostring(t), tostring(t) }
end

sweep(t)

local old_slot = tonumber(old[2])
local gen = tonumber(old[6])

if old[1] ~= typ or old_slot ~= slot then
    if live_after(t) > 0 then
        return err(409, 'conflict',
                   'the type cannot change while bookings that have not ' ..
                   'ended exist', 'type')
    end
    -- counters of another slot length mean nothing any more; bookings of
    -- the old generation no longer touch them
    drop_counters()
    gen = gen + 1
    redis.call('HSET', r, 'used', 0)
elseif cap < tonumber(old[3]) then
    local used
    if slot == 0 then
        used = tonumber(old[5])
    else
        used = max_used_from(math.floor(t / slot))
    end
    if used > cap then
        return err(409, 'conflict',
                   used .. ' units are booked; capacity cannot go below',
                   'capacity')
    end
end

redis.call('HSET', r, 'doc', doc, 'type', typ, 'slot', slot,
           'capacity', cap, 'gen', gen, 'updated_at', t)

return { 'ok', 0, doc, old[4], tostring(t) }
