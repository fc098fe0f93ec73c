#!lua
-- DELETE /resources/{id}
-- KEYS R B C K H A, then for each type the ids and geo listing indexes
--      (from K_INDEXES on, in the order of the rules lines)
-- ARGV one rules line per type (from A_RULES on)
-- -> {'ok'} | AGAIN | err
--
-- Its bookings and counters go with it, so that the id may be used again
-- afresh: UNLINK frees them apart from Redis's main thread, so the cost
-- does not grow with the resource's past.

local R = load_resource()
if not R then
    return err(404, 'not_found', 'no such resource')
end

local t = now()
if not sweep(R, t) then
    return again()
end

if in_use(R, t) then
    return err(409, 'conflict', 'the resource has bookings that have ' ..
               'not ended')
end

redis.call('UNLINK', K_R, K_B, K_C, K_K, K_H, K_A)

for i = A_RULES, #ARGV do
    if string.sub(ARGV[i], 1, #R.type + 1) == R.type .. ' ' then
        local k = K_INDEXES + 2 * (i - A_RULES)
        redis.call('ZREM', KEYS[k], RID)
        redis.call('ZREM', KEYS[k + 1], RID)
    end
end

return { 'ok' }
