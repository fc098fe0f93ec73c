#!lua
-- One candidate of a listing page (GET /resources?type=...), sent for the
-- candidates of a page in one pipelined batch.
-- KEYS R B C K H A E D X V (E D X V: what a sweep writes)
-- ARGV from, to (seconds; '' without a range), quantity, events
-- -> {doc, free}: free is the fewest free units over the range, the free
--    stock of a timeless resource, or -1 when neither applies;
--    {'', free} when fewer than quantity units are free over the range:
--    the page will not show it, so its document is not copied;
--    {} when the resource is gone; AGAIN.

local R = load_resource()
if not R then
    return effects({})
end

local function doc()
    return redis.call('HGET', K_R, 'doc')
end

if not sweep(R, now()) then
    return again()
end

if R.slot == 0 then
    return effects({ doc(), R.capacity - R.used })
end

if A_FROM == '' then
    return effects({ doc(), -1 })
end

local s0 = math.floor(tonumber(A_FROM) / R.slot)
local s1 = math.ceil(tonumber(A_TO) / R.slot)
local free = math.max(R.capacity - max_in(read_counters(s0, s1)), 0)

if free < tonumber(A_QUANTITY) then
    return effects({ '', free })
end

return effects({ doc(), free })
