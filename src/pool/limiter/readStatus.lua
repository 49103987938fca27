--[[
  What each account is doing, for the CLI and metrics. Read-only: slots whose lease ran out and
  submits outside the window are left out of the counts, not removed, so a status call never
  frees a slot without waking its waiters.

  Input:
    KEYS[1]          waiters ZSET (pool-wide)
    KEYS[2+4(i-1)..] account i: slots ZSET, submits ZSET, turn HASH, paused STRING
    ARGV[1] now in ms, or '' for the Redis server's time
    ARGV[2] window mode: 'rolling' | 'utc-day'
    ARGV[3] window in ms (rolling only)
    ARGV[4+2(i-1)..] account i: dailyLimit ('' for none), rates (see _turn.lua)

  Output: {waiters, {inFlight, submitsInWindow, nextQuotaAt or -1, nextTurnAt, pausedReason or '',
          marginMs}, ...}
]]
--- @include "_clock"
--- @include "_quota"
--- @include "_turn"

local now = clockMs(ARGV[1])
local out = { redis.call('ZCARD', KEYS[1]) }
for i = 1, (#KEYS - 1) / 4 do
  local k = 1 + (i - 1) * 4
  local v = 4 + (i - 1) * 2
  local used, reopensAt = 0, nil
  if ARGV[v] ~= '' then used, reopensAt = countQuota(KEYS[k + 2], now, ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[v])) end
  local t = readTurn(KEYS[k + 3], now, parseRates(ARGV[v + 1]))
  out[#out + 1] = {
    redis.call('ZCOUNT', KEYS[k + 1], '(' .. now, '+inf'),
    used,
    reopensAt or -1,
    math.min(classOpens(t, 'create'), classOpens(t, 'read')),
    redis.call('GET', KEYS[k + 4]) or '',
    t.margin,
  }
end
return out
