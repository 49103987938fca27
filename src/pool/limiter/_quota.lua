--[[
  Quota: a ZSET per account of the submits that may still count, member "jobId:time" (a
  ".n" suffix keeps two submits of one job in the same ms apart), score = submit time.
  'rolling': a submit counts while it is younger than windowMs; one exactly windowMs old no
  longer counts. 'utc-day': a submit counts from 00:00 UTC of the server's day; windowMs is
  ignored.
]]
local DAY_MS = 86400000

-- Lowest score (exclusive) that still counts.
local function windowFloor(now, windowMode, windowMs)
  if windowMode == 'utc-day' then return now - (now % DAY_MS) - 1 end
  return now - windowMs
end

-- How many submits count now and, when the limit is reached, when the next unit comes back.
local function countQuota(submitsKey, now, windowMode, windowMs, dailyLimit)
  local floor = windowFloor(now, windowMode, windowMs)
  local used = redis.call('ZCOUNT', submitsKey, '(' .. floor, '+inf')
  if used < dailyLimit then return used, nil end
  if windowMode == 'utc-day' then return used, now - (now % DAY_MS) + DAY_MS end
  -- With the limit lowered below the count, several must leave before one unit is free.
  local leaving = redis.call('ZRANGEBYSCORE', submitsKey, '(' .. floor, '+inf', 'WITHSCORES', 'LIMIT', used - dailyLimit, 1)
  return used, tonumber(leaving[2]) + windowMs
end

local function pruneQuota(submitsKey, now, windowMode, windowMs)
  redis.call('ZREMRANGEBYSCORE', submitsKey, '-inf', windowFloor(now, windowMode, windowMs))
end

local function recordSubmit(submitsKey, jobId, now)
  local member = jobId .. ':' .. now
  local n = 1
  while redis.call('ZSCORE', submitsKey, member) do
    n = n + 1
    member = jobId .. ':' .. now .. '.' .. n
  end
  redis.call('ZADD', submitsKey, now, member)
end

-- The job's newest unit, or nil. The member's tail must be the time, so job "a" never takes a
-- unit of job "a:b".
local function latestSubmitOf(submitsKey, jobId)
  local prefix = jobId .. ':'
  for _, member in ipairs(redis.call('ZREVRANGE', submitsKey, 0, -1)) do
    if string.sub(member, 1, #prefix) == prefix and string.match(string.sub(member, #prefix + 1), '^%d+[%.%d]*$') then
      return member
    end
  end
  return nil
end
