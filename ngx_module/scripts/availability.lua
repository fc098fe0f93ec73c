#!lua
-- GET /resources/{id}/availability
-- KEYS[1] bk:{r:<id>}
-- ARGV from, to (seconds, '' when absent), most slots one answer may hold
-- -> {'ok', type, slot, capacity, start, counters}   timed resources
--    {'ok', type, 0, capacity, used}                 timeless resources
--    err
-- The worker turns the counters into runs, so Redis only copies bytes.

local R = load_resource()

if not R then
    return err(404, 'not_found', 'no such resource')
end

sweep(R, now())

local slot = R.slot

if slot == 0 then
    return { 'ok', R.type, 0, R.capacity, R.used }
end

if ARGV[1] == '' or ARGV[2] == '' then
    return err(400, 'bad_request', 'from and to are required',
               ARGV[1] == '' and 'from' or 'to')
end

local s0 = math.floor(tonumber(ARGV[1]) / slot)
local s1 = math.ceil(tonumber(ARGV[2]) / slot)

if s1 - s0 > tonumber(ARGV[3]) then
    return err(422, 'invalid', 'the range holds more than ' .. ARGV[3] ..
               ' slots of this type', 'to')
end

return { 'ok', R.type, slot, R.capacity, s0 * slot, read_counters(s0, s1) }
