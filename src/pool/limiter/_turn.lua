--[[
  Request turns: KIE wants >= minIntervalMs between ANY two requests of an account, judged on
  arrival, so grants are spaced `spacing` = minIntervalMs + intervalMarginMs apart. One HASH per
  account: next (earliest time of the next grant), lastSubmit (time of the last submit grant,
  used to rotate a backlog over accounts), resBy/resAt (a reservation).

  Why reservations: with ten tasks polled at about one request per second, a submit that is
  told "wait 400 ms" would come back to find a poll took that turn, and so on: polls would
  starve submits and slots would sit idle. So a submit that found a slot and quota free but not
  the turn reserves the next turn (resBy = jobId, resAt = when it opens). A 'poll' that asks
  for that turn is told to wait one interval more. 'retry' and 'refresh' ignore reservations:
  they serve a task that already holds a slot and paid its quota, and a video link expires.
  A reservation lapses when its submit has not taken it within one interval after resAt (the
  worker died or picked another account), so a lost submit holds polls back once, not forever.
]]

-- The turn state with a lapsed reservation read as none.
local function readTurn(turnKey, now, spacing)
  local f = redis.call('HMGET', turnKey, 'next', 'lastSubmit', 'resBy', 'resAt')
  local t = { nextAt = tonumber(f[1]) or 0, lastSubmit = tonumber(f[2]) or 0 }
  local resAt = tonumber(f[4])
  if f[3] and resAt and now < resAt + spacing then
    t.resBy = f[3]
    t.resAt = resAt
  end
  return t
end

-- Earliest time a requester may be granted; `requester` is a jobId, or false for a poll.
local function turnAt(t, now, spacing, requester, honoursReservation)
  if honoursReservation and t.resBy and t.resBy ~= requester then
    return math.max(t.nextAt, t.resAt) + spacing
  end
  return math.max(t.nextAt, now)
end

local function grantTurn(turnKey, now, spacing)
  redis.call('HSET', turnKey, 'next', now + spacing)
end
