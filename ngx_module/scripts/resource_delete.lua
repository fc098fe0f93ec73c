-- DELETE /resources/{id}
-- KEYS[1] bk:{r:<id>}
-- -> {'ok'} | err

local r = KEYS[1]

if redis.call('EXISTS', r) == 0 then
    return err(404, 'not_found', 'no such resource')
end

local t = now()
sweep(t)

if live_after(t) > 0 then
    return err(409, 'conflict', 'the resource has bookings that have not ended')
end

drop_counters()
redis.call('DEL', r, rkey('live'), rkey('holds'), rkey('bookings'))

return { 'ok' }
