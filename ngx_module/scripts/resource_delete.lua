#!lua
-- DELETE /resources/{id}
-- KEYS R B C K H A E D X V
-- ARGV events (booking_events_maxlen of a stream, '' when off), then one
--      rules line per type (from A_RULES on)
-- -> {'ok', type it had} | AGAIN | err
--
-- The worker then takes it out of its type's listing indexes, a step of
-- its own (type_index): they are keys of another hash tag.
--
-- Its bookings and counters go with it, so that the id may be used again
-- afresh: UNLINK frees them apart from Redis's main thread, so the cost
-- does not grow with the resource's past.

local R = load_resource()
if not R then
    return err(404, 'not_found', 'no such resource')
end

local t = now()
if not sweep(R, t) then
    return again()
end

if in_use(R, t) then
    return err(409, 'conflict', 'the resource has bookings that have ' ..
               'not ended')
end

redis.call('UNLINK', K_R, K_B, K_C, K_K, K_H, K_A, K_X, K_V)
redis.call('ZREM', K_D, RID)
resource_event('resource.deleted', R.type, t)

return effects({ 'ok', R.type })
