#!lua flags=no-writes
-- GET /bookings/{id}
-- KEYS R B
-- ARGV rand user admin (1|0)
-- -> tuple (200) | err
-- A read: it changes nothing, and shows an expired hold as expired.

local R = load_resource()
local b = R and load_booking(R, A_RAND)

if not b or not sees(R, b, A_USER, A_ADMIN) then
    return err(404, 'not_found', 'no such booking')
end

return tuple(200, A_RAND, as_of(b, now()), R.slot)
