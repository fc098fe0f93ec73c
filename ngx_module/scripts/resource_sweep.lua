#!lua
-- The sweeper's call on a resource its shard's index says is due
-- KEYS R B C K H A E D X V
-- ARGV events (booking_events_maxlen of a stream, '' when off)
-- -> {'ok'} | AGAIN
--
-- Frees the holds due now and emits their booking.expired, as any script
-- on the resource would first; a resource gone leaves the index.

local R = load_resource()
if not R then
    redis.call('ZREM', K_D, RID)
    return effects({ 'ok' })
end

if not sweep(R, now()) then
    return again()
end

return effects({ 'ok' })
