-- POST /bookings/{id}/confirm | cancel
-- ARGV id rand op user token (1|0)

local id, rand, op, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local r = redis.call('HMGET', KEYS[1], 'slot')
if not r[1] then
    return err(404, 'not_found', 'no such booking')
end
local slot = tonumber(r[1])
sweep(KEYS[1], slot)

local k = KEYS[1] .. ':bk:' .. rand
local v = redis.call('HMGET', k, unpack(FIELDS))
if not v[1] or not (ARGV[5] == '1' or (user ~= '' and user == v[6])) then
    return err(404, 'not_found', 'no such booking')
end
local b = {}
for i, f in ipairs(FIELDS) do
    b[f] = v[i]
end

if op == 'confirm' then
    if b.status == 'held' then
        b.status = 'confirmed'
        redis.call('ZREM', KEYS[3], rand)
    elseif b.status == 'expired' then
        return err(410, 'expired', 'the hold expired before it was ' ..
                   'confirmed')
    elseif b.status ~= 'confirmed' then
        return err(409, 'conflict', 'a ' .. b.status .. ' booking cannot ' ..
                   'be confirmed')
    end
elseif b.status == 'held' or b.status == 'confirmed' then
    give_back(KEYS[1], slot, { b.status, b.start, b['end'], b.quantity })
    b.status = 'cancelled'
    redis.call('ZREM', KEYS[3], rand)
elseif b.status ~= 'cancelled' then
    return err(409, 'conflict', 'a ' .. b.status .. ' booking cannot be ' ..
               'cancelled')
end
b.updated_at = now
redis.call('HSET', k, 'status', b.status, 'updated_at', now)
return answer(200, id, b, slot)
