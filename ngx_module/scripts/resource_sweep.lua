#!lua
-- The sweeper's call on a resource its shard's index says is due
-- KEYS R B C K H A E D X V
-- ARGV events (booking_events_maxlen of a stream, '' when off)
-- -> {'ok', pin...} | AGAIN
--
-- Frees the holds due now and emits their booking.expired, as any script
-- on the resource would first; a resource gone leaves the index.  A
-- pinned hold due (a group across hash slots) is listed, "<group>
-- <part>", for the sweeper to ask the group's primary what it became.

local R = load_resource()
if not R then
    redis.call('ZREM', K_D, RID)
    return effects({ 'ok' })
end

sweeper = true
if not sweep(R, now()) then
    return again()
end

-- the pins other scripts saw due, each listed once; the resource due
-- again when its next hold is, not at once
local kept = redis.call('HGET', K_R, 'pins')
if kept then
    for p in string.gmatch(kept, '[^\n]+') do
        pins_due[p] = true
    end
    redis.call('HDEL', K_R, 'pins')
    if R.due and R.due < FOREVER then
        redis.call('ZADD', K_D, digits(R.due), RID)
    else
        redis.call('ZREM', K_D, RID)
    end
end

local a = { 'ok' }
for p in pairs(pins_due) do
    a[#a + 1] = p
end
return effects(a)
