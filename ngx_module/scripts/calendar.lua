#!lua
-- GET /resources/{id}/calendar.ics
-- KEYS R B C K H A E D X V (E D X V: what a sweep writes)
-- ARGV most events in one feed, events
-- -> {'ok', slot, name, rand, start, end, kind, updated_at, ...} | AGAIN
--    | err
-- Occupying bookings and blocks that end after 30 days ago, the soonest
-- ending first; never a user id or a note.  Twice as many bookings as
-- events are looked at, at most: cancelled ones are in the same index.

local R = load_resource()
if not R then
    return err(404, 'not_found', 'no such resource')
end

local t = now()
if not sweep(R, t) then
    return again()
end

local name = RID
local ok, doc = pcall(cjson.decode, redis.call('HGET', K_R, 'doc'))
if ok and type(doc) == 'table' and type(doc.title) == 'string' then
    name = doc.title
end

local out = { 'ok', R.slot, name }

if R.slot == 0 then
    return effects(out)
end

local most = tonumber(A_MAX_EVENTS)
local since = t - 30 * 86400
local rands = redis.call('ZRANGEBYSCORE', K_A, '(' .. digits(since), '+inf',
                         'LIMIT', 0, 2 * most)
if #rands == 0 then
    return effects(out)
end

local n = 0
for i, v in ipairs(redis.call('HMGET', K_B, unpack(rands))) do
    local b = v and cjson.decode(v)
    if b and b.inc == R.inc and b.start and tonumber(b['end']) > since then
        as_of(b, t)
        if b.status == 'held' or b.status == 'requested' or
           b.status == 'confirmed' then
            out[#out + 1] = rands[i]
            out[#out + 1] = b.start
            out[#out + 1] = b['end']
            out[#out + 1] = b.kind
            out[#out + 1] = b.updated_at
            n = n + 1
            if n == most then
                break
            end
        end
    end
end

return effects(out)
