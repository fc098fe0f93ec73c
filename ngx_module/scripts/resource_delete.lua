#!lua
-- DELETE /resources/{id}
-- KEYS[1] bk:{r:<id>}
-- -> {'ok'} | AGAIN | err
-- Its bookings go with it, so that the id may be used again afresh: their
-- indexes now, their hashes when they expire (RETAIN after they ended, as
-- they would have); they belong to no incarnation any more, so nothing
-- reads them meanwhile.  The cost does not grow with the resource's past.

local R = load_resource()
if not R then
    return err(404, 'not_found', 'no such resource')
end

local t = now()
if not sweep(R, t) then
    return again()
end
prune(R, t)

if live_after(t) > 0 then
    return err(409, 'conflict', 'the resource has bookings that have ' ..
               'not ended')
end

drop_counters()
redis.call('DEL', KEYS[1], rkey('live'), rkey('holds'), rkey('all'))

local id = string.sub(KEYS[1], 7, -2)
redis.call('ZREM', 'bk:{t:' .. R.type .. '}:ids', id)
redis.call('ZREM', 'bk:{t:' .. R.type .. '}:geo', id)

return { 'ok' }
