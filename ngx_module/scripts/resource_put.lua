#!lua
-- PUT /resources/{id}
-- KEYS R B C K H A, then for each type the ids and geo listing indexes
--      (from K_INDEXES on, in the order of the rules lines)
-- ARGV doc type slot capacity owner groups lat lon, then one rules line
--      per type (from A_RULES on)
-- -> {'ok', created (1|0), doc, created_at, updated_at} | AGAIN | err
--
-- The listing indexes of its type change with it, atomically: they are
-- keys of their own hash tags, so this needs a single Redis (Cluster
-- makes them a step of their own: issue 14).

local doc, typ = A_DOC, A_TYPE
local slot, cap = tonumber(A_SLOT), tonumber(A_CAPACITY)
local t, us = now()

local R = load_resource()

-- the ids and geo index of a type, by the place of its rules line
local function indexes(name)
    for i = A_RULES, #ARGV do
        if string.sub(ARGV[i], 1, #name + 1) == name .. ' ' then
            local k = K_INDEXES + 2 * (i - A_RULES)
            return KEYS[k], KEYS[k + 1]
        end
    end
end

local function index(old)
    if old and old ~= typ then
        -- a type no longer in nginx.conf keeps the entry: its listing
        -- is refused anyway
        local ids, geo = indexes(old)
        if ids then
            redis.call('ZREM', ids, RID)
            redis.call('ZREM', geo, RID)
        end
    end
    local ids, geo = indexes(typ)
    redis.call('ZADD', ids, 0, RID)
    if A_LAT ~= '' then
        redis.call('GEOADD', geo, A_LON, A_LAT, RID)
    else
        redis.call('ZREM', geo, RID)
    end
end

if not R then
    redis.call('HSET', K_R, 'doc', doc, 'type', typ, 'slot', A_SLOT,
               'capacity', A_CAPACITY, 'used', 0, 'gen', stamp(t, us),
               'inc', stamp(t, us), 'owner', A_OWNER, 'groups', A_GROUPS,
               'created_at', digits(t), 'updated_at', digits(t),
               'due', digits(FOREVER))
    index(nil)
    return { 'ok', 1, doc, digits(t), digits(t) }
end

if not sweep(R, t) then
    return again()
end

prune(R, t)

local gen = R.gen

if R.type ~= typ or R.slot ~= slot then
    if in_use(R, t) then
        return err(409, 'conflict', 'the type cannot change while ' ..
                   'bookings that have not ended exist', 'type')
    end
    -- counters of another slot length mean nothing any more, and bookings
    -- of the old generation no longer touch them
    drop_counters()
    gen = stamp(t, us)
    redis.call('HSET', K_R, 'used', 0)
elseif cap < R.capacity then
    local used
    if slot == 0 then
        used = R.used
    else
        used = max_used_from(math.floor(t / slot))
    end
    if used > cap then
        return err(409, 'conflict', used .. ' units are booked: the ' ..
                   'capacity cannot go below that', 'capacity')
    end
end

redis.call('HSET', K_R, 'doc', doc, 'type', typ, 'slot', A_SLOT,
           'capacity', A_CAPACITY, 'gen', gen, 'owner', A_OWNER,
           'groups', A_GROUPS, 'updated_at', digits(t))
index(R.type)

return { 'ok', 0, doc, R.created_at, digits(t) }
