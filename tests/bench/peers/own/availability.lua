-- GET /resources/{id}/availability
-- ARGV from to (seconds) -> {'ok', type, slot, capacity, start, slots,
-- counters} | {'ok', type, 0, capacity, used}

local r = redis.call('HMGET', KEYS[1], 'type', 'slot', 'capacity')
if not r[1] then
    return err(404, 'not_found', 'no such resource')
end
local slot = tonumber(r[2])
sweep(KEYS[1], slot)
if slot == 0 then
    return { 'ok', r[1], 0, tonumber(r[3]),
             tonumber(redis.call('HGET', KEYS[1], 'used')) }
end
if ARGV[1] == '' or ARGV[2] == '' then
    return err(400, 'bad_request', 'from and to are required',
               ARGV[1] == '' and 'from' or 'to')
end
local s0 = math.floor(tonumber(ARGV[1]) / slot)
local s1 = math.ceil(tonumber(ARGV[2]) / slot)
if s1 - s0 > 100000 then
    return err(422, 'invalid', 'the range holds more than 100000 slots ' ..
               'of this type', 'to')
end
return { 'ok', r[1], slot, tonumber(r[3]), s0 * slot, s1 - s0,
         read_used(KEYS[1], s0, s1, slot) }
