#!lua flags=no-writes
-- GET /bookings?resource=&from=&to=&status=&cursor=&limit=
-- KEYS R B A
-- ARGV user admin (1|0) from to ('' when absent) status ('' for any)
--      cursor ('' for the first page) limit
-- -> {'ok', next cursor ('' on the last page), tuple, tuple, ...} | err
--
-- One page of a resource's bookings, by end + buffer (a booking that
-- stopped occupying before its end: by when it stopped), for its owner or
-- an admin.  The cursor is the last entry seen, "<score>:<rand>", so that
-- bookings made or dropped between two pages neither repeat nor hide
-- others.  (A user's own bookings span resources: the worker reads them
-- from the user's index, resource by resource.)

local user, admin, want = A_USER, A_ADMIN, A_STATUS
local from, to = tonumber(A_FROM), tonumber(A_TO)
local limit = tonumber(A_LIMIT)
local SCAN = 200               -- entries looked at, at most, per page

local t = now()

local R = load_resource()
if not R then
    return err(404, 'not_found', 'no such resource', 'resource')
end
if admin ~= '1' and (user == '' or user ~= R.owner) then
    return err(403, 'forbidden', 'only the owner of the resource or ' ..
               'an admin may list its bookings', 'resource')
end

-- the entries after the cursor: the rest of its score, then higher ones
local entries = {}

if A_CURSOR ~= '' then
    local cs, cm = string.match(A_CURSOR, '^(%d+):(.+)$')
    if not cs then
        return err(400, 'bad_request', 'bad cursor', 'cursor')
    end
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', K_A, cs, cs, 'LIMIT', 0,
                                  SCAN)) do
        if m > cm and #entries < SCAN then
            entries[#entries + 1] = { m, cs }
        end
    end
    local more = redis.call('ZRANGEBYSCORE', K_A, '(' .. cs, '+inf',
                            'WITHSCORES', 'LIMIT', 0, SCAN - #entries)
    for i = 1, #more, 2 do
        entries[#entries + 1] = { more[i], more[i + 1] }
    end
else
    local all = redis.call('ZRANGEBYSCORE', K_A, '-inf', '+inf',
                           'WITHSCORES', 'LIMIT', 0, SCAN)
    for i = 1, #all, 2 do
        entries[#entries + 1] = { all[i], all[i + 1] }
    end
end

local out = { 'ok', '' }

if #entries == 0 then
    return out
end

local rands = {}
for i, e in ipairs(entries) do
    rands[i] = e[1]
end

local n = 0

for i, v in ipairs(redis.call('HMGET', K_B, unpack(rands))) do
    local b = v and cjson.decode(v)
    if b and b.inc == R.inc then
        as_of(b, t)
        local keep = (want == '' or b.status == want)
        if keep and from and to then
            keep = b.start ~= nil and tonumber(b.start) < to and
                   tonumber(b['end']) > from
        end
        if keep then
            out[#out + 1] = tuple(200, rands[i], b, R.slot)
            n = n + 1
            if n == limit then
                if i < #entries or #entries == SCAN then
                    out[2] = string.format('%d', entries[i][2]) .. ':' ..
                             rands[i]
                end
                return out
            end
        end
    end
end

if #entries == SCAN then
    local last = entries[#entries]
    out[2] = string.format('%d', last[2]) .. ':' .. last[1]
end

return out
