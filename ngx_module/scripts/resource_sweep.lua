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

if not sweep(R, now()) then
    return again()
end

local a = { 'ok' }
for _, p in ipairs(pins_due) do
    a[#a + 1] = p
end
return effects(a)
