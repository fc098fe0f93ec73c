#!lua
-- One candidate of a listing page (GET /resources?type=...), sent for the
-- candidates of a page in one pipelined batch.
-- KEYS[1] bk:{r:<id>}
-- ARGV[1] from   [2] to (seconds; '' without a range)   [3] quantity
-- -> {doc, free}: free is the fewest free units over the range, the free
--    stock of a timeless resource, or -1 when neither applies;
--    {'', free} when fewer than quantity units are free over the range:
--    the page will not show it, so its document is not copied;
--    {} when the resource is gone; AGAIN.

local h = redis.call('HMGET', KEYS[1], 'slot', 'capacity', 'used', 'gen',
                     'type', 'inc')
if not h[1] then
    return {}
end

local R = { slot = tonumber(h[1]), capacity = tonumber(h[2]),
            used = tonumber(h[3]), gen = h[4], type = h[5], inc = h[6] or '' }

local function doc()
    return redis.call('HGET', KEYS[1], 'doc')
end

if not sweep(R, now()) then
    return again()
end

if R.slot == 0 then
    return { doc(), R.capacity - R.used }
end

if ARGV[1] == '' then
    return { doc(), -1 }
end

local s0 = math.floor(tonumber(ARGV[1]) / R.slot)
local s1 = math.ceil(tonumber(ARGV[2]) / R.slot)
local free = math.max(R.capacity - max_in(read_counters(s0, s1)), 0)

if free < tonumber(ARGV[3]) then
    return { '', free }
end

return { doc(), free }
