-- GET /resources?type=&from=&to=&quantity=&limit=&cursor=
-- KEYS[1] type:<t>
-- ARGV after (the last id of the page before, '' for the first), limit,
--      from, to (seconds, '' without), quantity
-- -> {'ok', the last id looked at ('' when the type has no more), doc,
--    free, doc, free, ...}: free is -1 when not asked for
-- It looks at 5 x limit candidates at most (200 at most), as the module.

local after, limit = ARGV[1], tonumber(ARGV[2])
local from, to, qty = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local most = math.min(5 * limit, 200)
local ids = redis.call('ZRANGEBYLEX', KEYS[1],
                       after == '' and '-' or '(' .. after, '+',
                       'LIMIT', 0, from and most or limit)
local out = { 'ok', '' }
local found = 0
for _, id in ipairs(ids) do
    local r = 'res:{' .. id .. '}'
    local h = redis.call('HMGET', r, 'doc', 'slot', 'capacity', 'used')
    out[2] = id
    if h[1] then
        local slot, cap = tonumber(h[2]), tonumber(h[3])
        local free = -1
        if slot == 0 then
            free = cap - tonumber(h[4])
        elseif from then
            sweep(r, slot)
            free = math.max(fewest_free(r, math.floor(from / slot),
                                        math.ceil(to / slot), slot, cap, qty),
                            0)
        end
        if not from or free >= qty then
            out[#out + 1] = h[1]
            out[#out + 1] = free
            found = found + 1
            if found == limit then
                break
            end
        end
    end
end
if #ids < (from and most or limit) and out[2] == ids[#ids] then
    out[2] = ''
end
return out
