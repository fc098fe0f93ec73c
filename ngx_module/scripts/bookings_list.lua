#!lua
-- GET /bookings?resource=&from=&to=&status=&cursor=&limit=
-- KEYS[1] bk:{u:<user>}:bookings (the caller's own, by start), or
--         bk:{r:<id>} (that resource's, by end + buffer, for its owner or
--         an admin)
-- ARGV[1] mode (user|resource)   [2] user   [3] admin (1|0)
--     [4] from   [5] to ('' when absent)   [6] status ('' for any)
--     [7] cursor ('' for the first page)   [8] limit
-- -> {'ok', next cursor ('' on the last page), tuple, tuple, ...} | err
--
-- The cursor is the last entry seen, "<score>:<member>", so that bookings
-- made or dropped between two pages neither repeat nor hide others.  The
-- caller's own index spans resources, so in user mode this script reads
-- keys of several hash tags: it needs a single Redis (not Cluster).

local mode, user, admin = ARGV[1], ARGV[2], ARGV[3]
local from, to, want = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local limit = tonumber(ARGV[8])
local SCAN = 200               -- entries looked at, at most, per page

local t = now()
local index, prefix
local owners = {}       -- rkey -> {slot, inc} of the resource, once read

if mode == 'resource' then
    local R = load_resource()
    if not R then
        return err(404, 'not_found', 'no such resource', 'resource')
    end
    if admin ~= '1' and (user == '' or user ~= R.owner) then
        return err(403, 'forbidden', 'only the owner of the resource or ' ..
                   'an admin may list its bookings', 'resource')
    end
    index = rkey('all')
    prefix = KEYS[1] .. ':b:'
    owners[KEYS[1]] = { R.slot, R.inc }
else
    index = KEYS[1]
end

-- the entries after the cursor: the rest of its score, then higher ones
local entries = {}

if ARGV[7] ~= '' then
    local cs, cm = string.match(ARGV[7], '^(%d+):(.+)$')
    if not cs then
        return err(400, 'bad_request', 'bad cursor', 'cursor')
    end
    local same = redis.call('ZRANGEBYSCORE', index, cs, cs)
    for _, m in ipairs(same) do
        if m > cm and #entries < SCAN then
            entries[#entries + 1] = { m, cs }
        end
    end
    local more = redis.call('ZRANGEBYSCORE', index, '(' .. cs, '+inf',
                            'WITHSCORES', 'LIMIT', 0, SCAN - #entries)
    for i = 1, #more, 2 do
        entries[#entries + 1] = { more[i], more[i + 1] }
    end
else
    local all = redis.call('ZRANGEBYSCORE', index, '-inf', '+inf',
                           'WITHSCORES', 'LIMIT', 0, SCAN)
    for i = 1, #all, 2 do
        entries[#entries + 1] = { all[i], all[i + 1] }
    end
end

local out = { 'ok', '' }
local n = 0

for i, e in ipairs(entries) do
    local m = e[1]
    local key, rkey_, id
    if prefix then
        key, rkey_, id = prefix .. m, KEYS[1], booking_id(m)
    else
        local dot = string.find(m, '%.[^.]*$')
        rkey_ = 'bk:{r:' .. string.sub(m, 1, dot - 1) .. '}'
        key, id = rkey_ .. ':b:' .. string.sub(m, dot + 1), m
    end

    local v = redis.call('HMGET', key, unpack(FIELDS))
    if v[1] and owners[rkey_] == nil then
        local h = redis.call('HMGET', rkey_, 'slot', 'inc')
        owners[rkey_] = { tonumber(h[1]) or 0, h[2] or '' }
    end
    if not v[1] or (v[14] or '') ~= owners[rkey_][2] then
        -- the booking was dropped after RETAIN, or its resource deleted:
        -- so is its entry
        if not prefix then
            redis.call('ZREM', index, m)
        end
    else
        local b = {}
        for j, f in ipairs(FIELDS) do
            b[f] = v[j] or ''
        end
        as_of(b, t)
        local keep = (want == '' or b.status == want)
        if keep and from and to then
            keep = b.start ~= '' and tonumber(b.start) < to and
                   tonumber(b['end']) > from
        end
        if keep then
            out[#out + 1] = tuple(200, id, b, owners[rkey_][1])
            n = n + 1
            if n == limit then
                if i < #entries or #entries == SCAN then
                    out[2] = string.format('%d', e[2]) .. ':' .. m
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
