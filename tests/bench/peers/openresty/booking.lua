-- The OpenResty peer of tests/bench/bench.pl: the same booking endpoints as
-- ngx_booking (availability, POST /bookings, confirm and cancel), written
-- the way an OpenResty engineer would, on Debian's lua-nginx-module and
-- lua-resty-redis ("nginx.redis" in Debian): a keepalive pool of Redis
-- connections per worker, one EVALSHA per request, cjson for JSON,
-- OpenSSL through the FFI for the hold token (HMAC-SHA256) and the
-- booking ids.  The availability counters are turned into runs here, in Lua.
--
-- Two stores behind the same HTTP code (init's "store"): "scripts", the
-- SAME scripts as the module (the module's own functions by FCALL, as
-- bench.pl names them in <script>.fn, with its KEYS and ARGV; its texts by
-- EVALSHA without them), which compares the HTTP tiers; and "own", the peer's
-- own scripts and key layout (own.lua), which compares what the scripts
-- cost Redis.  Both answer in the module's script replies, so the HTTP code
-- is one.

local cjson = require "cjson.safe"
local redis = require "nginx.redis"
local ffi = require "ffi"
local bit = require "bit"

local ngx = ngx
local byte, sub, find, fmt = string.byte, string.sub, string.find, string.format
local concat = table.concat
local tonumber, tostring, type = tonumber, tostring, type
local re_match = ngx.re.match
local os_date = os.date

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md,
                    unsigned int *md_len);
int RAND_bytes(unsigned char *buf, int num);
int CRYPTO_memcmp(const void *a, const void *b, size_t len);
]]

-- nginx links libcrypto: its symbols are in the process already
local crypto = ffi.C
if not pcall(function() return crypto.EVP_sha256 end) then
    crypto = ffi.load("libcrypto.so.3")
end

local _M = {}

local cfg            -- set by init()
local store          -- the scripts store or the own one
local call, scripts_store
local scripts = {}   -- name -> { sha, text }
local types = {}     -- name -> type
local rules = {}     -- the rules lines, as the module sends them
local nrules = 0

local ID_RE = [[^[A-Za-z0-9_-]{1,64}$]]
local RAND_RE = [[^[A-Za-z0-9_-]{16}$]]
local TIME_RE = [[^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2}))?$]]
local MAX_RANGE = 366 * 86400
local READ_SLOTS_MAX = "100000"
local NOTE_MAX = 1000
local CAPACITY_MAX = 1000000

local function slurp(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

-- init_by_lua: read the scripts and the types once, in the master.  The
-- scripts are the module's texts as its config puts them together (bench.pl
-- writes them so), or the peer's own.
function _M.init(c)
    cfg = c
    store = scripts_store
    local names = { "availability", "booking_create", "booking_act" }
    local own
    if c.store == "own" then
        own = require("own")
        names = own.scripts
    end
    for _, name in ipairs(names) do
        local text = own and own.text(slurp, c.own_dir, name)
                     or slurp(c.scripts .. "/" .. name .. ".lua")
        local sha = ngx.sha1_bin(text):gsub(".", function(ch)
            return fmt("%02x", byte(ch))
        end)
        -- the same scripts: the module's own function, as it calls it
        local f = not own and io.open(c.scripts .. "/" .. name .. ".fn", "rb")
        local fn = f and f:read("*l")
        if f then f:close() end
        scripts[name] = { text = text, sha = sha, fn = fn }
    end
    for _, t in ipairs(cjson.decode(slurp(c.types))) do
        types[t.name] = t
        nrules = nrules + 1
        rules[nrules] = fmt("%s %d %d %d %d %d %d %d %d %d %d %d", t.name,
                            t.slot, t.hold, t.min, t.max, t.buffer, t.lead,
                            t.horizon, t.approval, t.max_active, t.longest,
                            t.hold_max or t.hold)
    end
    cfg.secret = slurp(c.secret_file)
    if own then
        store = own.store(call, rules, nrules)
    end
end

-- init_worker: load the scripts once the worker runs (cosockets are not
-- allowed here, a zero timer is); a NOSCRIPT later falls back to EVAL.
function _M.init_worker()
    ngx.timer.at(0, function(premature)
        if premature then return end
        local red = redis:new()
        red:set_timeout(1000)
        local ok, err = red:connect(cfg.redis_host, cfg.redis_port)
        if not ok then
            ngx.log(ngx.WARN, "redis: ", err)
            return
        end
        for _, s in pairs(scripts) do
            red:script("LOAD", s.text)
        end
        red:set_keepalive(60000, 256)
    end)
end

-- one script call on a pooled connection; a script that found more
-- expired holds than it may free at once answers AGAIN: sent again
function call(name, nkeys, ...)
    local s = scripts[name]
    local red = redis:new()
    red:set_timeout(250)
    local ok, err = red:connect(cfg.redis_host, cfg.redis_port)
    if not ok then
        return nil, err, 503
    end
    local res
    for _ = 1, 128 do
        if s.fn then
            res, err = red:fcall(s.fn, nkeys, ...)
        else
            res, err = red:evalsha(s.sha, nkeys, ...)
        end
        if res == false and find(err, "^NOSCRIPT") then
            res, err = red:eval(s.text, nkeys, ...)
        end
        if res ~= "AGAIN" then
            break
        end
    end
    if res == nil then
        -- a socket error: the connection is in an unknown state
        red:close()
        return nil, err, find(tostring(err), "timeout") and 504 or 503
    end
    red:set_keepalive(60000, 256)
    if res == false then
        return nil, err, (find(err, "^LOADING") or find(err, "^BUSY"))
                         and 503 or 500
    end
    if res == "AGAIN" then
        return nil, "AGAIN 128 times", 503
    end
    return res
end

-- The module's key of a resource: the CRC16-XMODEM of its id modulo 64 is
-- its hash tag (ngx_module/scripts/contract).
local function crc16(s)
    local crc = 0
    for i = 1, #s do
        crc = bit.bxor(crc, bit.lshift(byte(s, i), 8))
        for _ = 1, 8 do
            crc = bit.band(crc, 0x8000) ~= 0
                  and bit.bxor(bit.lshift(crc, 1), 0x1021)
                  or bit.lshift(crc, 1)
            crc = bit.band(crc, 0xffff)
        end
    end
    return crc
end

local function rkey(id)
    return fmt("bk:{s%02x}:r:%s", crc16(id) % 64, id)
end

-- the store of the module's scripts: their KEYS and ARGV
scripts_store = {}

-- the shard's keys: its event stream and its index of holds due
local function skeys(r)
    local shard = string.match(r, "^(bk:{s%x+}):")
    return shard .. ":events", shard .. ":due"
end

function scripts_store.availability(id, from, to)
    local r = rkey(id)
    local e, d = skeys(r)
    return call("availability", 8, r, r .. ":b", r .. ":c", r .. ":k",
                r .. ":h", r .. ":a", e, d, from, to, READ_SLOTS_MAX, "")
end

function scripts_store.create(p)
    local r = rkey(p.resource)
    local e, d = skeys(r)
    return call("booking_create", 11, r, r .. ":b", r .. ":c", r .. ":k",
                r .. ":h", r .. ":a", e, d, r .. ":x", r .. ":v",
                r .. ":i:" .. p.scope,
                p.rand, p.user, p.kind,
                p.hold and "1" or "0", p.start, p.finish, p.quantity,
                p.note, "0", p.groups, p.scope, p.fingerprint, "", "", "",
                unpack(rules, 1, nrules))
end

function scripts_store.act(rid, op, rand, user, has_token)
    local r = rkey(rid)
    local e, d = skeys(r)
    return call("booking_act", 10, r, r .. ":b", r .. ":c", r .. ":k",
                r .. ":h", r .. ":a", e, d, r .. ":x", r .. ":v", op, rand,
                user, "0",
                has_token and "1" or "0", "", unpack(rules, 1, nrules))
end

local function send(status, body, headers)
    ngx.status = status
    local h = ngx.header
    h["Content-Type"] = "application/json"
    h["Content-Length"] = #body
    if headers then
        for k, v in pairs(headers) do
            h[k] = v
        end
    end
    ngx.print(body)
end

local function send_error(status, code, message, field)
    local e = { code = code, message = message }
    if field and field ~= "" then
        e.field = field
    end
    return send(status, cjson.encode({ error = e }))
end

local function backend_error(err, status)
    ngx.log(ngx.ERR, "redis: ", err)
    if status == 503 then
        return send_error(503, "backend_unavailable", "Redis cannot be reached")
    elseif status == 504 then
        return send_error(504, "backend_timeout", "Redis did not answer in time")
    end
    return send_error(500, "internal", "internal error")
end

-- {'err', status, code, message, field}
local function script_error(res)
    if type(res) == "table" and res[1] == "err" then
        send_error(tonumber(res[2]), res[3], res[4], res[5])
        return true
    end
    return false
end

local function days_from_civil(y, m, d)
    y = m <= 2 and y - 1 or y
    local era = math.floor(y / 400)
    local yoe = y - era * 400
    local mp = (m + 9) % 12
    local doy = math.floor((153 * mp + 2) / 5) + d - 1
    local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
end

local MDAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- RFC 3339 date-time or plain date -> seconds, fraction?; nil when bad
local function parse_time(s)
    if type(s) ~= "string" then
        return nil
    end
    local m = re_match(s, TIME_RE, "jo")
    if not m then
        return nil
    end
    local y, mo, d = tonumber(m[1]), tonumber(m[2]), tonumber(m[3])
    if y < 1 or mo < 1 or mo > 12 or d < 1 then
        return nil
    end
    local mdays = MDAYS[mo]
    if mo == 2 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then
        mdays = 29
    end
    if d > mdays then
        return nil
    end
    local t = days_from_civil(y, mo, d) * 86400
    if not m[4] then
        return t, false
    end
    local h, mi, se = tonumber(m[4]), tonumber(m[5]), tonumber(m[6])
    if h > 23 or mi > 59 or se > 59 then
        return nil
    end
    local off = 0
    local z = m[8]
    if z ~= "Z" and z ~= "z" then
        local oh, om = tonumber(sub(z, 2, 3)), tonumber(sub(z, 5, 6))
        if oh > 23 or om > 59 then
            return nil
        end
        off = oh * 3600 + om * 60
        if sub(z, 1, 1) == "-" then
            off = -off
        end
    end
    t = t + h * 3600 + mi * 60 + se - off
    if t < 0 then
        return nil
    end
    return t, (m[7] and find(m[7], "[1-9]")) and true or false
end

local function fmt_time(t, date)
    if date then
        return os_date("!%Y-%m-%d", t)
    end
    return os_date("!%Y-%m-%dT%H:%M:%SZ", t)
end

local function b64url(s)
    return (ngx.encode_base64(s, true):gsub("[+/]", { ["+"] = "-", ["/"] = "_" }))
end

local md = ffi.new("unsigned char[32]")
local mdlen = ffi.new("unsigned int[1]")

local function token(id)
    crypto.HMAC(crypto.EVP_sha256(), cfg.secret, #cfg.secret, id, #id, md,
                mdlen)
    return b64url(ffi.string(md, 32))
end

local rnd = ffi.new("unsigned char[12]")

local function random_id()
    if crypto.RAND_bytes(rnd, 12) ~= 1 then
        return nil
    end
    return b64url(ffi.string(rnd, 12))
end

local function user_of()
    local u = ngx.var.http_x_user_id or ""
    if #u > 128 or find(u, "[%z\1-\31\127]") then
        return nil
    end
    return u
end

-- the booking, as the module writes it
local function booking_json(e, with_token)
    local slot = tonumber(e[14]) or 0
    local date = slot > 0 and slot % 86400 == 0
    local id = e[3]
    local dot = find(id, "%.[^.]*$")
    local b = { id = id, resource = sub(id, 1, dot - 1), type = e[4],
                status = e[5], kind = e[6], quantity = tonumber(e[9]) }
    local s, en = tonumber(e[7]), tonumber(e[8])
    if s then b.start = fmt_time(s, date) end
    if en then b["end"] = fmt_time(en, date) end
    if e[10] ~= "" then b.user = e[10] end
    b.created_at = fmt_time(tonumber(e[11]), false)
    local x = tonumber(e[12])
    if x then b.expires_at = fmt_time(x, false) end
    if e[13] ~= "" then b.note = e[13] end
    if with_token then b.token = token(id) end
    return cjson.encode(b)
end

-- The runs of slots with as many units free, from the counters (4 bytes
-- big-endian a slot, units in use) of n slots from start: { start, end,
-- free } each, and where the last ends.
local function runs_of(counters, n, start, slot, cap)
    local runs, last, run_start, at = {}, nil, start, start
    for i = 0, n - 1 do
        local a, b, c, d = byte(counters, 4 * i + 1, 4 * i + 4)
        local units = cap - (((a * 256 + b) * 256 + c) * 256 + d)
        if units < 0 or cap <= 0 then
            units = 0
        end
        if units ~= last then
            if last then
                runs[#runs + 1] = { run_start, at, last }
            end
            last, run_start = units, at
        end
        at = at + slot
    end
    if last then
        runs[#runs + 1] = { run_start, at, last }
    end
    return runs, at
end

-- GET /resources/{id}/availability
local function availability(id)
    local args = ngx.req.get_uri_args(16)
    local from, to = -1, -1
    if args.from then
        from = parse_time(args.from)
        if not from then
            return send_error(400, "bad_request",
                              "not an RFC 3339 date or date-time", "from")
        end
    end
    if args.to then
        to = parse_time(args.to)
        if not to then
            return send_error(400, "bad_request",
                              "not an RFC 3339 date or date-time", "to")
        end
    end
    if from >= 0 and to >= 0 then
        if to <= from then
            return send_error(422, "invalid", "to must be after from", "to")
        end
        if to - from > MAX_RANGE then
            return send_error(422, "invalid",
                              "the range is longer than the longest allowed",
                              "to")
        end
    end
    local res, err, st = store.availability(id, from >= 0 and from or "",
                                            to >= 0 and to or "")
    if not res then
        return backend_error(err, st)
    end
    if script_error(res) then
        return
    end
    local slot, cap = tonumber(res[3]), tonumber(res[4])
    local t = types[res[2]]
    local slot_text = (t and t.slot == slot) and t.slot_text or (slot .. "s")
    if slot == 0 then
        local free = cap - tonumber(res[5])
        return send(200, cjson.encode({ resource = id, type = res[2],
                                        slot = "none", capacity = cap,
                                        free = free > 0 and free or 0 }))
    end
    local start = tonumber(res[5])
    local date = slot % 86400 == 0
    local runs, at = runs_of(concat(res, "", 7), tonumber(res[6]), start,
                             slot, cap)
    for i, r in ipairs(runs) do
        runs[i] = { start = fmt_time(r[1], date), ["end"] = fmt_time(r[2], date),
                    units = r[3] }
    end
    return send(200, cjson.encode({ resource = id, type = res[2],
                                    slot = slot_text, capacity = cap,
                                    from = fmt_time(start, date),
                                    to = fmt_time(at, date), free = runs }))
end

local BOOKING_FIELDS = { resource = true, start = true, ["end"] = true,
                         quantity = true, hold = true, kind = true,
                         note = true }

local function read_body()
    ngx.req.read_body()
    local body = ngx.req.get_body_data()
    if not body then
        local file = ngx.req.get_body_file()
        if file then
            body = slurp(file)
        end
    end
    return body or ""
end

-- 409: {'unavailable', capacity, 0, free} of a stock, or {'unavailable',
-- capacity, slot, start, quantity, counters} of a calendar: the runs with
-- fewer units free than asked are the conflicts (50 at most)
local function unavailable(res)
    local cap, slot = tonumber(res[2]), tonumber(res[3])
    local msg, conflicts
    if slot == 0 then
        local free = math.max(tonumber(res[4]), 0)
        msg = (cap - free) .. " of " .. cap .. " units are taken"
        conflicts = { { free = free } }
    else
        local date = slot % 86400 == 0
        local qty = tonumber(res[5])
        local runs = runs_of(res[6], #res[6] / 4, tonumber(res[4]), slot, cap)
        conflicts = {}
        for _, r in ipairs(runs) do
            if r[3] < qty and #conflicts < 50 then
                conflicts[#conflicts + 1] = { start = fmt_time(r[1], date),
                                              ["end"] = fmt_time(r[2], date),
                                              free = r[3] }
            end
        end
        local first = runs[1]
        for _, r in ipairs(runs) do
            if r[3] < qty then
                first = r
                break
            end
        end
        msg = (cap - first[3]) .. " of " .. cap .. " units are taken from " ..
              fmt_time(first[1], date) .. " to " .. fmt_time(first[2], date)
    end
    return send(409, cjson.encode({ error = { code = "unavailable",
                                              message = msg,
                                              conflicts = conflicts } }))
end

-- POST /bookings
local function create()
    local ct = ngx.var.content_type
    if not ct or not (find(ct, "^[Aa]pplication/[Jj][Ss][Oo][Nn]%s*$")
                      or find(ct, "^[Aa]pplication/[Jj][Ss][Oo][Nn]%s*;")) then
        return send_error(415, "unsupported_media_type",
                          "the body must be application/json")
    end
    local user = user_of()
    if not user then
        return send_error(400, "bad_request", "the user of the request " ..
                          "holds control characters", "user")
    end
    local body = read_body()
    local j, err = cjson.decode(body)
    if j == nil then
        return send_error(400, "invalid_json", err or "invalid JSON")
    end
    if type(j) ~= "table" or j[1] ~= nil then
        return send_error(400, "bad_request", "the body must be a JSON object")
    end
    for k in pairs(j) do
        if not BOOKING_FIELDS[k] then
            return send_error(422, "invalid", "unknown field", tostring(k))
        end
    end
    local resource = j.resource
    if type(resource) ~= "string" then
        return send_error(400, "bad_request", resource == nil
                          and "resource is required"
                          or "resource must be a string", "resource")
    end
    local s, e = -1, -1
    for _, f in ipairs({ "start", "end" }) do
        local v = j[f]
        if v ~= nil then
            local t, frac = parse_time(v)
            if not t then
                return send_error(400, "bad_request",
                                  "not an RFC 3339 date or date-time", f)
            end
            if frac then
                return send_error(422, "invalid", "not on a slot boundary", f)
            end
            if f == "start" then s = t else e = t end
        end
    end
    if s >= 0 and e >= 0 and e <= s then
        return send_error(422, "invalid", "end must be after start", "end")
    end
    local qty = j.quantity
    if qty == nil then
        qty = 1
    elseif type(qty) ~= "number" or qty ~= math.floor(qty) then
        return send_error(400, "bad_request", "quantity must be an integer",
                          "quantity")
    elseif qty < 1 or qty > CAPACITY_MAX then
        return send_error(422, "invalid", "quantity must be at least 1 " ..
                          "and at most the capacity", "quantity")
    end
    local hold = j.hold
    if hold == nil then
        hold = false
    elseif type(hold) ~= "boolean" then
        return send_error(400, "bad_request", "hold must be true or false",
                          "hold")
    end
    local kind = j.kind
    if kind == nil then
        kind = "booking"
    elseif type(kind) ~= "string" then
        return send_error(400, "bad_request", "kind must be a string", "kind")
    elseif kind ~= "booking" and kind ~= "block" then
        return send_error(422, "invalid", 'kind is "booking" or "block"',
                          "kind")
    end
    local note = j.note
    if note == nil then
        note = ""
    elseif type(note) ~= "string" then
        return send_error(400, "bad_request", "note must be a string", "note")
    elseif #note > NOTE_MAX then
        return send_error(422, "invalid", "note is longer than 1000 bytes",
                          "note")
    end
    if user == "" then
        return send_error(401, "unauthenticated", "a user is needed")
    end
    if not re_match(resource, ID_RE, "jo") then
        return send_error(404, "not_found", "no such resource", "resource")
    end

    local scope, idem = "", ngx.var.http_idempotency_key
    if idem then
        if #idem == 0 or #idem > 255 or find(idem, "[%z\1-\31\127]") then
            return send_error(400, "bad_request", "Idempotency-Key must be " ..
                              "1 to 255 printable bytes", "Idempotency-Key")
        end
        scope = #user .. ":" .. user .. ":" .. idem
    end
    local fp = concat({ resource, s, e, qty, hold and 1 or 0, kind, note },
                      "\n")
    local rand = random_id()
    if not rand then
        return send_error(500, "internal", "internal error")
    end
    local res, st
    res, err, st = store.create({ resource = resource, user = user,
                                  rand = rand, kind = kind, hold = hold,
                                  start = s >= 0 and s or "",
                                  finish = e >= 0 and e or "",
                                  quantity = qty, note = note,
                                  groups = ngx.var.http_x_user_groups or "",
                                  scope = scope, fingerprint = fp })
    if not res then
        return backend_error(err, st)
    end
    if script_error(res) then
        return
    end
    if res[1] == "unavailable" then
        return unavailable(res)
    end
    if res[1] ~= "ok" then
        return backend_error("unexpected reply", 500)
    end
    local held = res[5] == "held"
    local headers = {}
    if held then
        headers["Booking-Token"] = token(res[3])
    end
    if tonumber(res[15]) == 1 then
        headers["Idempotent-Replayed"] = "true"
    end
    return send(tonumber(res[2]), booking_json(res, held), headers)
end

-- GET /resources?type=&from=&to=&quantity=&limit=&cursor= (the own store
-- only): the cursor is the last id looked at
local function listing()
    local args = ngx.req.get_uri_args(16)
    local t = types[args.type or ""]
    if not t then
        return send_error(422, "invalid", "no such type", "type")
    end
    local limit = tonumber(args.limit or 20)
    if not limit or limit < 1 or limit > 100 or limit % 1 ~= 0 then
        return send_error(422, "invalid", "limit is 1 to 100", "limit")
    end
    local qty = tonumber(args.quantity or 1)
    if not qty or qty < 1 or qty % 1 ~= 0 then
        return send_error(422, "invalid", "quantity must be at least 1",
                          "quantity")
    end
    local from, to = "", ""
    if args.from or args.to then
        from, to = parse_time(args.from), parse_time(args.to)
        if not from or not to or to <= from or t.slot == 0 then
            return send_error(422, "invalid", "not a range of this type", "to")
        end
    end
    local after = args.cursor or ""
    if after ~= "" and not re_match(after, ID_RE, "jo") then
        return send_error(400, "bad_request", "not a cursor", "cursor")
    end
    if not store.listing then
        return send_error(404, "not_found", "no such route")
    end
    local res, err, st = store.listing(t.name, after, limit, from, to, qty)
    if not res then
        return backend_error(err, st)
    end
    local items = {}
    for i = 3, #res - 1, 2 do
        local free = tonumber(res[i + 1])
        items[#items + 1] = free >= 0
                            and sub(res[i], 1, -2) .. ',"free":' .. free .. "}"
                            or res[i]
    end
    local next = res[2] ~= "" and ',"next":' .. cjson.encode(res[2]) or ""
    return send(200, '{"items":[' .. concat(items, ",") .. "]" .. next .. "}")
end

-- POST /bookings/{id}/{op}
local function act(id, op)
    local dot = find(id, "%.[^.]*$")
    if not dot then
        return send_error(404, "not_found", "no such booking")
    end
    local rid, rand = sub(id, 1, dot - 1), sub(id, dot + 1)
    if not re_match(rid, ID_RE, "jo") or not re_match(rand, RAND_RE, "jo") then
        return send_error(404, "not_found", "no such booking")
    end
    local user = user_of()
    if not user then
        return send_error(400, "bad_request", "the user of the request " ..
                          "holds control characters", "user")
    end
    local tok = ngx.var.http_booking_token
    local has_token = false
    if tok and #tok == 43 then
        local want = token(id)
        has_token = crypto.CRYPTO_memcmp(want, tok, 43) == 0
    end
    if user == "" and not has_token then
        return send_error(401, "unauthenticated",
                          "a user or the booking's token is needed")
    end
    local res, err, st = store.act(rid, op, rand, user, has_token)
    if not res then
        return backend_error(err, st)
    end
    if script_error(res) then
        return
    end
    if res[1] ~= "ok" then
        return backend_error("unexpected reply", 500)
    end
    return send(tonumber(res[2]), booking_json(res, false))
end

-- content handler of location /api/
function _M.handle()
    local uri = ngx.var.uri
    local method = ngx.req.get_method()
    local m = re_match(uri, [[^/api/resources/([^/]+)/availability$]], "jo")
    if m then
        if method ~= "GET" and method ~= "HEAD" then
            ngx.header["Allow"] = "GET, HEAD"
            return send_error(405, "method_not_allowed", "method not allowed")
        end
        if not re_match(m[1], ID_RE, "jo") then
            return send_error(400, "bad_request", "not a valid resource id",
                              "id")
        end
        return availability(m[1])
    end
    if uri == "/api/resources" then
        if method ~= "GET" and method ~= "HEAD" then
            ngx.header["Allow"] = "GET, HEAD"
            return send_error(405, "method_not_allowed", "method not allowed")
        end
        return listing()
    end
    if uri == "/api/bookings" then
        if method ~= "POST" then
            ngx.header["Allow"] = "POST"
            return send_error(405, "method_not_allowed", "method not allowed")
        end
        return create()
    end
    m = re_match(uri, [[^/api/bookings/([^/]+)/(confirm|cancel)$]], "jo")
    if m then
        if method ~= "POST" then
            ngx.header["Allow"] = "POST"
            return send_error(405, "method_not_allowed", "method not allowed")
        end
        return act(m[1], m[2])
    end
    return send_error(404, "not_found", "no such route")
end

return _M
