#!lua
-- One candidate of a listing page (GET /resources?type=...), sent for the
-- candidates of a page in one pipelined batch.
-- KEYS[1] bk:{r:<id>}
-- ARGV[1] from   [2] to (seconds; '' without a range)
-- -> {doc, free}: free is the fewest free units over the range, the free
--    stock of a timeless resource, or -1 when neither applies;
--    {} when the resource is gone.

local h = redis.call('HMGET', KEYS[1], 'doc', 'slot', 'capacity', 'used',
                     'gen', 'type')
if not h[1] then
    return {}
end

local R = { slot = tonumber(h[2]), capacity = tonumber(h[3]),
            used = tonumber(h[4]), gen = tonumber(h[5]), type = h[6] }

sweep(R, now())

if R.slot == 0 then
    return { h[1], R.capacity - R.used }
end

if ARGV[1] == '' then
    return { h[1], -1 }
end

local s0 = math.floor(tonumber(ARGV[1]) / R.slot)
local s1 = math.ceil(tonumber(ARGV[2]) / R.slot)
return { h[1], math.max(R.capacity - max_in(read_counters(s0, s1)), 0) }
