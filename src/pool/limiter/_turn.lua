--[[
  Request turns. KIE judges its rates per account, when requests arrive. Each rate is a budget: at
  most `limit` requests in any window of `window` ms, the window lengthened by the account's margin
  (the configured base plus what interval 429s added, see widenMargin-1.lua). The seed's single
  interval is the budget 1 per KIE_MIN_INTERVAL_MS over both request classes; KIE's live limits are
  one budget per class. A request takes one unit of every budget of its class: 'create' (submits)
  or 'read' (status reads, link refreshes, credit reads).

  One algorithm for every budget, a sliding-window log (the daily quota's too, see _quota.lua): a
  budget with room grants now; a full one has room again when the limit-th newest entry leaves the
  window. Only that entry decides, so a log keeps just the newest `limit` entries. Two logs per
  budget, in the account's turn HASH:
    g:<id>  grants, "time time ...", oldest first: who may go, and in what order
    s:<id>  sends, "time:token ...": when requests actually left (fenceSend-1.lua)
  A grant needs room in both, so a request that left late pushes the grants after it; a send needs
  room in the send log only, checked the moment it leaves, so it also pushes a grant already handed
  out instead of arriving beside it.

  Rates travel as one ARGV string: "<margin ms>;<id>=<limit>/<window ms>/<classes>;..." with
  classes 'c', 'r' or 'cr', e.g. "50;i=1/1000/cr" (the seed) or "50;c=20/10000/c;r=10/1000/r".

  Why reservations: with ten tasks polled at about one request per second, a submit that is told
  "wait 400 ms" would come back to find a poll took that turn, and so on: polls would starve
  submits and slots would sit idle. So a submit that found a slot and quota free but not the turn
  reserves its next turn (resBy = jobId, resAt = when it opens). A 'poll' that wants a unit of a
  budget it shares with creates counts the reserved unit first, so it waits one unit more. 'retry'
  and 'refresh' ignore reservations: they serve a task that already holds a slot and paid its
  quota, and a video link expires. A reservation lapses when its submit has not taken it within one
  unit after resAt (the worker died or picked another account), so a lost submit holds polls back
  once, not forever.

  Other fields of the HASH: lastSubmit (time of the last submit grant, to rotate a backlog over
  accounts), extra/extraAt/narrowAt/extraDecay (the adaptive margin, see widenMargin-1.lua),
  callbackAt (the last callback for one of the account's tasks, see claimCheck-5.lua).
]]

local function parseRates(spec)
  local rates = { budgets = {} }
  for part in string.gmatch(spec, '[^;]+') do
    if rates.margin == nil then
      rates.margin = tonumber(part)
    else
      local id, limit, window, classes = string.match(part, '^(%w+)=(%d+)/(%d+)/(%a+)$')
      rates.budgets[#rates.budgets + 1] = {
        id = id, limit = tonumber(limit), window = tonumber(window),
        create = string.find(classes, 'c', 1, true) ~= nil, read = string.find(classes, 'r', 1, true) ~= nil,
      }
    end
  end
  return rates
end

local function covers(b, cls)
  if cls == 'create' then return b.create end
  return b.read
end

-- "t1 t2" -> {t1, t2}
local function parseTimes(text)
  local times = {}
  for t in string.gmatch(text or '', '%S+') do times[#times + 1] = tonumber(t) end
  return times
end

-- "t1:token1 t2:token2" -> {{t1, token1}, {t2, token2}}
local function parseSends(text)
  local sends = {}
  for t, token in string.gmatch(text or '', '(%d+):(%S+)') do sends[#sends + 1] = { tonumber(t), token } end
  return sends
end

local function sendTimes(sends, exceptToken)
  local times = {}
  for _, s in ipairs(sends) do
    if s[2] ~= exceptToken then times[#times + 1] = s[1] end
  end
  return times
end

-- A copy of the sorted list with v in its place (entries are numbers, or {time, token} pairs).
local function withEntry(list, v)
  local key = function(e) return type(e) == 'table' and e[1] or e end
  local out, placed = {}, false
  for _, e in ipairs(list) do
    if not placed and key(v) < key(e) then
      out[#out + 1] = v
      placed = true
    end
    out[#out + 1] = e
  end
  if not placed then out[#out + 1] = v end
  return out
end

local function newest(list, limit)
  local out = {}
  for i = math.max(1, #list - limit + 1), #list do out[#out + 1] = list[i] end
  return out
end

-- The margin interval 429s added: kept until narrowAt, then shrinking linearly (whole ms).
local function extraMargin(extra, narrowAt, decay, now)
  if not extra or not narrowAt then return 0 end
  return math.max(0, math.ceil(extra - math.max(0, now - narrowAt) * (decay or 0)))
end

-- When a full log has room again (the limit-th newest entry leaves the window); 0 when it has room.
local function logOpens(times, limit, span)
  if #times < limit then return 0 end
  return times[#times - limit + 1] + span
end

-- One unit of a class: the longest time between two of its grants when its budgets are saturated.
local function unitOf(t, cls)
  local unit = 0
  for _, b in ipairs(t.rates.budgets) do
    if covers(b, cls) then unit = math.max(unit, b.window / b.limit + t.margin) end
  end
  return unit
end

-- The account's turn state, a lapsed reservation read as none.
local function readTurn(turnKey, now, rates)
  local fields = { 'lastSubmit', 'resBy', 'resAt', 'extra', 'narrowAt', 'extraDecay', 'callbackAt' }
  for _, b in ipairs(rates.budgets) do
    fields[#fields + 1] = 'g:' .. b.id
    fields[#fields + 1] = 's:' .. b.id
  end
  local f = redis.call('HMGET', turnKey, unpack(fields))
  local t = { key = turnKey, rates = rates, lastSubmit = tonumber(f[1]) or 0, callbackAt = tonumber(f[7]), grants = {}, sends = {} }
  t.extra = extraMargin(tonumber(f[4]), tonumber(f[5]), tonumber(f[6]), now)
  t.margin = rates.margin + t.extra
  for i, b in ipairs(rates.budgets) do
    t.grants[b.id] = parseTimes(f[6 + 2 * i])
    t.sends[b.id] = parseSends(f[7 + 2 * i])
  end
  local resAt = tonumber(f[3])
  if f[2] and resAt and now < resAt + unitOf(t, 'create') then
    t.resBy = f[2]
    t.resAt = resAt
  end
  return t
end

-- Earliest time (perhaps past) every budget of the class has room; `reservedAt` counts a reserved
-- create unit there in the budgets creates share.
local function classOpens(t, cls, reservedAt)
  local at = 0
  for _, b in ipairs(t.rates.budgets) do
    if covers(b, cls) then
      local span = b.window + t.margin
      local grants = t.grants[b.id]
      if reservedAt and b.create then grants = withEntry(grants, reservedAt) end
      at = math.max(at, logOpens(grants, b.limit, span), logOpens(sendTimes(t.sends[b.id]), b.limit, span))
    end
  end
  return at
end

-- Earliest time a request of class `cls` may be granted; `requester` is a jobId, or false.
local function turnAt(t, now, cls, requester, honoursReservation)
  if honoursReservation and t.resBy and t.resBy ~= requester then
    -- The reserving submit goes first: its unit counts where it will be taken.
    return math.max(now, classOpens(t, cls, math.max(classOpens(t, 'create'), t.resAt)))
  end
  return math.max(now, classOpens(t, cls))
end

local function grantTurn(t, cls, now)
  for _, b in ipairs(t.rates.budgets) do
    if covers(b, cls) then
      t.grants[b.id] = newest(withEntry(t.grants[b.id], now), b.limit)
      redis.call('HSET', t.key, 'g:' .. b.id, table.concat(t.grants[b.id], ' '))
    end
  end
end
