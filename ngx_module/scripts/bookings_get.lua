#!lua flags=no-writes
-- Some of a user's bookings on one resource, for GET /bookings (the
-- user's index spans resources: the worker reads it, then asks each
-- resource for its part, so that no script reads another's keys).
-- KEYS R B X V
-- ARGV user admin (1|0), then the rands (from A_RANDS on)
-- -> {'ok', tuple or '' (gone, or not the caller's to see), ...}
--
-- A rand with no booking may be a waitlist entry still waiting: its
-- tuple then says "waiting" (the user's index and claims hold the id its
-- offer will have; the worker shows no entry as a booking).

local R = load_resource()
local t = now()
local out = { 'ok' }

if not R then
    for i = A_RANDS, #ARGV do
        out[#out + 1] = ''
    end
    return out
end

local rands = { unpack(ARGV, A_RANDS) }
for i, v in ipairs(redis.call('HMGET', K_B, unpack(rands))) do
    local b = v and cjson.decode(v)
    if b and b.inc == R.inc and sees(R, b, A_USER, A_ADMIN) then
        out[#out + 1] = tuple(200, rands[i], as_of(b, t), R.slot)
    elseif not b and R.wl > 0 then
        local w = load_entry(R, rands[i])
        if w and w.status == 'waiting' and tonumber(w.start or t + 1) > t
           and sees(R, w, A_USER, A_ADMIN) then
            out[#out + 1] = entry_tuple(200, R, rands[i], w, t)
        else
            out[#out + 1] = ''
        end
    else
        out[#out + 1] = ''
    end
end

return out
