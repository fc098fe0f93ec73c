#!lua
-- GET /resources/{id}/availability
-- KEYS R B C K H A E D X V (E D X V: what a sweep writes)
-- ARGV from, to (seconds, '' when absent), most slots one answer may hold,
--      events (booking_events_maxlen of a stream, '' when off)
-- -> {'ok', type, slot, capacity, start, slots, part...}   timed resources
--    {'ok', type, 0, capacity, used}                       timeless resources
--    AGAIN | err
-- Each part is the counters of one chunk within the range.  The worker
-- turns them into runs: Redis's one thread only copies bytes.

local R = load_resource()

if not R then
    return err(404, 'not_found', 'no such resource')
end

if not sweep(R, now()) then
    return again()
end

local slot = R.slot

if slot == 0 then
    return effects({ 'ok', R.type, 0, R.capacity, R.used })
end

if A_FROM == '' or A_TO == '' then
    return err(400, 'bad_request', 'from and to are required',
               A_FROM == '' and 'from' or 'to')
end

local s0 = math.floor(tonumber(A_FROM) / slot)
local s1 = math.ceil(tonumber(A_TO) / slot)

if s1 - s0 > tonumber(A_MAX_SLOTS) then
    return err(422, 'invalid', 'the range holds more than ' .. A_MAX_SLOTS ..
               ' slots of this type', 'to')
end

local a = { 'ok', R.type, slot, R.capacity, digits(s0 * slot), s1 - s0 }

for _, p in ipairs(read_counters(s0, s1)) do
    a[#a + 1] = bytes_of(p)
end

return effects(a)
