-- The "own" store of the OpenResty peer (booking.lua): its own scripts and
-- key layout (tests/bench/peers/own: lib.lua put before each script), the
-- way an OpenResty developer writes them, behind the same HTTP code.

local _M = { scripts = { "availability", "hold", "act", "listing" } }

function _M.text(slurp, dir, name)
    return slurp(dir .. "/lib.lua") .. "\n" .. slurp(dir .. "/" .. name .. ".lua")
end

local function keys(id)
    local r = "res:{" .. id .. "}"
    return r, r .. ":used", r .. ":holds"
end

function _M.store(call, rules, nrules)
    local s = {}

    function s.availability(id, from, to)
        local a, b, c = keys(id)
        return call("availability", 3, a, b, c, from, to)
    end

    function s.create(p)
        local a, b, c = keys(p.resource)
        return call("hold", 3, a, b, c, p.resource .. "." .. p.rand, p.rand,
                    p.user, p.kind, p.hold and "1" or "0", p.start, p.finish,
                    p.quantity, p.note, unpack(rules, 1, nrules))
    end

    function s.listing(t, after, limit, from, to, qty)
        return call("listing", 1, "type:" .. t, after, limit, from, to, qty)
    end

    function s.act(rid, op, rand, user, has_token)
        local a, b, c = keys(rid)
        return call("act", 3, a, b, c, rid .. "." .. rand, rand, op, user,
                    has_token and "1" or "0")
    end

    return s
end

return _M
