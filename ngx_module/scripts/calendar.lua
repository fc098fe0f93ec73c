#!lua
-- GET /resources/{id}/calendar.ics
-- KEYS[1] bk:{r:<id>}
-- ARGV[1] most events in one feed
-- -> {'ok', slot, name, rand, start, end, kind, updated_at, ...} | err
-- Occupying bookings and blocks that end after 30 days ago; never a user
-- id or a note.

local R = load_resource()
if not R then
    return err(404, 'not_found', 'no such resource')
end

local t = now()
if not sweep(R, t) then
    return again()
end

local name = string.sub(KEYS[1], 7, -2)
local ok, doc = pcall(cjson.decode, redis.call('HGET', KEYS[1], 'doc'))
if ok and type(doc) == 'table' and type(doc.title) == 'string' then
    name = doc.title
end

local out = { 'ok', R.slot, name }

if R.slot == 0 then
    return out
end

local since = t - 30 * 86400
local live = redis.call('ZRANGEBYSCORE', rkey('live'), '(' .. since, '+inf',
                        'LIMIT', 0, tonumber(ARGV[1]))

for _, rand in ipairs(live) do
    local b = redis.call('HMGET', bkey(rand), 'start', 'end', 'kind',
                         'updated_at', 'status')
    if b[1] and b[1] ~= '' and tonumber(b[2]) > since and
       (b[5] == 'held' or b[5] == 'requested' or b[5] == 'confirmed') then
        out[#out + 1] = rand
        out[#out + 1] = b[1]
        out[#out + 1] = b[2]
        out[#out + 1] = b[3]
        out[#out + 1] = b[4]
    end
end

return out
