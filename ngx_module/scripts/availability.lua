#!lua
-- GET /resources/{id}/availability
-- KEYS[1] bk:{r:<id>}
-- ARGV from, to (seconds, '' when absent), most slots one answer may hold
-- -> {'ok', type, slot, capacity, start, slots, part...}   timed resources
--    {'ok', type, 0, capacity, used}                       timeless resources
--    AGAIN | err
-- Each part is the stored counters of one chunk within the range, shorter
-- where nothing was stored past its end.  The worker pads them with zeros
-- and turns them into runs: Redis's one thread copies each byte once, and
-- never joins them into a second string (in Lua, every string made costs
-- its length again in garbage collection).

local R = load_resource()

if not R then
    return err(404, 'not_found', 'no such resource')
end

if not sweep(R, now()) then
    return again()
end

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

local a = { 'ok', R.type, slot, R.capacity, s0 * slot, s1 - s0 }

for _, part in ipairs(counter_parts(s0, s1)) do
    a[#a + 1] = part
end

return a
