-- POST /bookings
-- ARGV id (resource.rand) rand user kind hold (1|0) start end quantity
--      note, then the rules lines of the types

local id, rand, user, kind = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local hold, qty, note = ARGV[5] == '1', tonumber(ARGV[8]), ARGV[9]

local r = redis.call('HMGET', KEYS[1], 'type', 'slot', 'capacity', 'used')
if not r[1] then
    return err(404, 'not_found', 'no such resource', 'resource')
end
local slot, cap = tonumber(r[2]), tonumber(r[3])
local rules = rules_of(r[1], 10)
sweep(KEYS[1], slot)

if qty > cap then
    return err(422, 'invalid', 'quantity is more than the capacity of ' ..
               cap, 'quantity')
end

local s, e = '', ''
if slot == 0 then
    local used = tonumber(redis.call('HGET', KEYS[1], 'used'))
    if used + qty > cap then
        return { 'unavailable', cap, 0, cap - used }
    end
    redis.call('HINCRBY', KEYS[1], 'used', qty)
else
    s, e = tonumber(ARGV[6]), tonumber(ARGV[7])
    if s % slot ~= 0 then
        return err(422, 'invalid', 'start is not on a slot boundary', 'start')
    end
    if e % slot ~= 0 then
        return err(422, 'invalid', 'end is not on a slot boundary', 'end')
    end
    if e - s < rules.min or (rules.max > 0 and e - s > rules.max) then
        return err(422, 'invalid', 'the length is not allowed', 'end')
    end
    if s < now - now % slot then
        return err(422, 'invalid', 'starts in the past', 'start')
    end
    local used = read_used(KEYS[1], s / slot, e / slot, slot)
    for i = 1, #used / 4 do
        if units(used, i) + qty > cap then
            return { 'unavailable', cap, slot, s, qty, used }
        end
    end
    for n = s / slot, e / slot - 1 do
        add(KEYS[1], n, slot, qty)
    end
end

local b = { type = r[1], kind = kind, start = s, ['end'] = e,
            quantity = qty, user = user, created_at = now, note = note,
            updated_at = now, status = 'confirmed', expires_at = '' }
if hold then
    b.status, b.expires_at = 'held', now + rules.hold
    redis.call('ZADD', KEYS[3], b.expires_at, rand)
end
local set = {}
for _, f in ipairs(FIELDS) do
    set[#set + 1] = f
    set[#set + 1] = b[f]
end
redis.call('HSET', KEYS[1] .. ':bk:' .. rand, unpack(set))
return answer(201, id, b, slot)
