--[[
  A request is about to leave: it goes now only if every budget of its class has room among the
  account's ACTUAL sends, and then it is the newest of them. KIE judges the rates when requests
  arrive, and a grant is handed out ahead of the send: a worker whose event loop stalled between
  grant and send would otherwise arrive beside a request granted after it. Checked here, at the
  moment of sending, the late one pushes the other (its check waits) instead of colliding with it.

  The same token again replaces its own send: the worker checks again when this script's answer
  came back slowly, and once the request is on its socket it records the send once more ('sent':
  no check, the request is gone), so the recorded time is never earlier than the real one.

  Input:
    KEYS[1] turn HASH of the account
    ARGV[1] the account's rates (see _turn.lua)
    ARGV[2] request class: 'create' | 'read'
    ARGV[3] token naming this request (no spaces or colons)
    ARGV[4] now in ms, or '' for the Redis server's time
    ARGV[5] 'check' (about to leave) | 'sent' (it left: record it, whatever the room)

  Output: 0 when the request may leave now (recorded as sent), else the ms to wait before asking again
]]
--- @include "_clock"
--- @include "_turn"

local now = clockMs(ARGV[4])
local cls, token = ARGV[2], ARGV[3]
local t = readTurn(KEYS[1], now, parseRates(ARGV[1]))
local at = 0
for _, b in ipairs(t.rates.budgets) do
  if covers(b, cls) then at = math.max(at, logOpens(sendTimes(t.sends[b.id], token), b.limit, b.window + t.margin)) end
end
if at > now and ARGV[5] ~= 'sent' then return at - now end
for _, b in ipairs(t.rates.budgets) do
  if covers(b, cls) then
    local kept = {}
    for _, s in ipairs(t.sends[b.id]) do
      if s[2] ~= token then kept[#kept + 1] = s end
    end
    local log = {}
    for _, s in ipairs(newest(withEntry(kept, { now, token }), b.limit)) do log[#log + 1] = s[1] .. ':' .. s[2] end
    redis.call('HSET', KEYS[1], 's:' .. b.id, table.concat(log, ' '))
  end
end
return 0
