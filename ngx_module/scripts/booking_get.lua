#!lua flags=no-writes
-- GET /bookings/{id}
-- KEYS[1] bk:{r:<id>}
-- ARGV[1] rand   [2] user   [3] admin (1|0)
-- -> tuple (200) | err
-- A read: it changes nothing, and shows an expired hold as expired.

local rand, user, admin = ARGV[1], ARGV[2], ARGV[3]

local R = load_resource()
local b = R and load_booking(R, rand)

if not b or not sees(R, b, user, admin) then
    return err(404, 'not_found', 'no such booking')
end

return tuple(200, booking_id(rand), as_of(b, now()), R.slot)
