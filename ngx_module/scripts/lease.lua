#!lua
-- Takes or keeps a lease: one worker of all nginx hosts does the work it
-- guards (the sweeper)
-- KEYS L
-- ARGV me (host, pid and a random of the worker), ms (how long it lasts)
-- -> {'ok'} (me: taken or kept) | {'ok', who holds it}
--
-- A holder that stops renewing (a crash, a reload, a host gone) loses it
-- ms later, and another worker takes it on its next try.

local who = redis.call('GET', K_L)

if who and who ~= A_ME then
    return { 'ok', who }
end

redis.call('SET', K_L, A_ME, 'PX', A_MS)

return { 'ok' }
