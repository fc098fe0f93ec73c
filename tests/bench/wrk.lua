-- wrk script of tests/bench/bench.pl: one request shape per mode (the
-- arguments after "--"), every status counted (409 apart), so that every
-- row of the table is measured by the same client code.
--
--   get                           the URL as given (headers with -H)
--   avail PREFIX N FROM TO        GET /api/resources/PREFIX%012d/availability
--                                 of a random one of N resources
--   hold PREFIX N T0 NSLOTS SLOT  POST /api/bookings: a hold of one SLOT on a
--                                 random resource, at a random slot of
--                                 [T0, T0 + NSLOTS * SLOT), by a random user
--   pair  (same arguments)        the same holds; the response of each hold
--                                 gives its id and token, and the next
--                                 request of the thread confirms it
--   race RESOURCE START END       every request holds the same slot of one
--                                 resource: the first get it, the rest 409
--   jwt FILE PREFIX N T0 NSLOTS SLOT
--                                 the holds of "hold", each with a bearer
--                                 token drawn from FILE (one a line) in
--                                 place of X-User-Id

local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
   thread:set("tid", #threads)
end

local mode, prefix, n, from, to, t0, nslots, slot, resource, rstart, rend
local fixed, tokens
local queue, qhead, qtail = {}, 1, 0

local function iso(t)
   return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

function init(args)
   mode = args[1] or "get"
   ok, c409, other, confirms = 0, 0, 0, 0
   codes = {}
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
   if mode == "avail" then
      prefix, n, from, to = args[2], tonumber(args[3]), args[4], args[5]
   elseif mode == "hold" or mode == "pair" then
      prefix, n = args[2], tonumber(args[3])
      t0, nslots, slot = tonumber(args[4]), tonumber(args[5]), tonumber(args[6])
   elseif mode == "race" then
      resource, rstart, rend = args[2], args[3], args[4]
   elseif mode == "jwt" then
      tokens = {}
      for line in io.lines(args[2]) do
         tokens[#tokens + 1] = line
      end
      prefix, n = args[3], tonumber(args[4])
      t0, nslots, slot = tonumber(args[5]), tonumber(args[6]), tonumber(args[7])
   else
      fixed = wrk.format()
   end
end

local function user()
   return "u" .. math.random(1, 10000)
end

local function post(body, u)
   local h = { ["Host"] = wrk.headers["Host"],
               ["Content-Type"] = "application/json" }
   if tokens then
      h["Authorization"] = "Bearer " .. tokens[math.random(1, #tokens)]
   else
      h["X-User-Id"] = u
   end
   -- the URL's path when it is a bookings path (/plain/bookings), else
   -- /api/bookings
   local path = string.match(wrk.path, "/bookings$") and wrk.path
                or "/api/bookings"
   return wrk.format("POST", path, h, body)
end

local function hold()
   local s = t0 + math.random(0, nslots - 1) * slot
   return post(string.format(
      '{"resource":"%s%012d","start":"%s","end":"%s","hold":true}',
      prefix, math.random(0, n - 1), iso(s), iso(s + slot)), user())
end

function request()
   if mode == "avail" then
      return wrk.format("GET", string.format(
         "/api/resources/%s%012d/availability?from=%s&to=%s",
         prefix, math.random(0, n - 1), from, to))
   elseif mode == "hold" or mode == "jwt" then
      return hold()
   elseif mode == "pair" then
      if qtail >= qhead then
         local b = queue[qhead]
         queue[qhead] = nil
         qhead = qhead + 1
         return wrk.format("POST", "/api/bookings/" .. b[1] .. "/confirm",
                           { ["Host"] = wrk.headers["Host"],
                             ["Booking-Token"] = b[2],
                             ["X-User-Id"] = b[3] })
      end
      return hold()
   elseif mode == "race" then
      return post(string.format(
         '{"resource":"%s","start":"%s","end":"%s","hold":true}',
         resource, rstart, rend), user())
   end
   return fixed
end

function response(status, headers, body)
   if status < 400 then
      ok = ok + 1
   elseif status == 409 then
      c409 = c409 + 1
   else
      other = other + 1
      codes[status] = (codes[status] or 0) + 1
   end
   if mode == "pair" then
      if status == 201 then
         local id = string.match(body, '"id":"([^"]+)"')
         local token = string.match(body, '"token":"([^"]+)"')
         local u = string.match(body, '"user":"([^"]+)"')
         if id and token then
            qtail = qtail + 1
            queue[qtail] = { id, token, u or "" }
         end
      elseif status == 200 then
         confirms = confirms + 1
      end
   end
end

function done(summary, latency, requests)
   local a, b, c, d = 0, 0, 0, 0
   local all = {}
   for _, t in ipairs(threads) do
      a = a + (t:get("ok") or 0)
      b = b + (t:get("c409") or 0)
      c = c + (t:get("other") or 0)
      d = d + (t:get("confirms") or 0)
      for status, n in pairs(t:get("codes") or {}) do
         all[status] = (all[status] or 0) + n
      end
   end
   local list = {}
   for status, n in pairs(all) do
      list[#list + 1] = status .. ":" .. n
   end
   table.sort(list)
   io.write(string.format("BENCH ok=%d c409=%d other=%d confirms=%d codes=%s\n",
                          a, b, c, d, table.concat(list, ",")))
end
