#!lua
-- GET /waitlist/{id}, DELETE /waitlist/{id}, GET /waitlist?resource=
-- KEYS R B X V
-- ARGV op (get, delete, list) rand ('' for list) user admin (1|0)
--      limit (list: the most entries answered)
-- -> get, delete: the entry's tuple (as it was) | list: {'ok', '',
--    tuple...} | err
--
-- Entries join with POST /waitlist (booking_create) and are served by
-- the scripts that free units (common.lua, "waitlist").  A deleted entry
-- is gone, and the worker gives its claims back; an offer
-- made to it stays the user's booking, to confirm or cancel as any hold.

local op, rand, user, admin = A_OP, A_RAND, A_USER, A_ADMIN == '1'

local R = load_resource()
local t = now()

if op == 'list' then
    if not R then
        return err(404, 'not_found', 'no such resource', 'resource')
    end
    if not admin and (user == '' or user ~= R.owner) then
        return err(403, 'forbidden', 'only the owner of the resource or ' ..
                   'an admin may list its waitlist', 'resource')
    end
    local out = { 'ok', '' }
    local line = redis.call('ZRANGE', K_V, 0, tonumber(A_LIMIT) - 1)
    if #line == 0 then
        return out
    end
    for i, v in ipairs(redis.call('HMGET', K_X, unpack(line))) do
        local w = v and cjson.decode(v)
        if w and w.inc == R.inc then
            out[#out + 1] = entry_tuple(200, R, line[i], w, t)
        end
    end
    return out
end

local w = R and load_entry(R, rand)
if not w then
    return err(404, 'not_found', 'no such waitlist entry')
end

local mine = user ~= '' and user == w.user

if op == 'get' then
    if not (admin or mine or (user ~= '' and user == R.owner)) then
        return err(404, 'not_found', 'no such waitlist entry')
    end
    -- an offer whose hold expired lapsed then, before the sweep says so
    if w.status == 'offered' then
        local b = load_booking(R, rand)
        if b and as_of(b, t).status == 'expired' then
            w.status, w.updated_at = 'lapsed', b.expires_at
        end
    end
    return entry_tuple(200, R, rand, w, t)
end

if op ~= 'delete' then
    return err(404, 'not_found', 'no such route')
end

if not (admin or mine) then
    if user ~= '' and user == R.owner then
        return err(403, 'forbidden', 'only its user or an admin may ' ..
                   'delete a waitlist entry')
    end
    return err(404, 'not_found', 'no such waitlist entry')
end

local was = entry_tuple(204, R, rand, w, t)
leave_line(R, rand, w)
redis.call('HDEL', K_X, rand)

return was
