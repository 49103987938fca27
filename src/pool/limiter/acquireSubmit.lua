--[[
  Takes one submit for a job: a slot, a quota unit and the next request turn, on the account
  that can start it soonest. Atomic across the accounts, so two workers never pick the same last
  slot.

  Choice: the job's own live slot first, on whichever configured account holds it, paused or not
  eligible included (a worker that crashed after acquiring, or after spending the account's
  credits, retries: it gets the same slot again, with no second slot or quota unit, and the
  first slot does not sit idle until its lease runs out). Otherwise, among the eligible accounts
  that are not paused and have a free slot and quota: the earliest turn (now, if any can grant
  now), then the fewest in flight, then the oldest last submit (so accounts share a backlog),
  then the order given. With none: 'quota' only if no eligible account has quota left,
  'concurrency' when every eligible account with quota is full, 'paused' when every eligible
  account is paused. 'concurrency' and 'paused' register the job as a waiter (a release wakes
  it); any other answer unregisters it.

  Input:
    KEYS[1]          waiters ZSET (pool-wide): jobId -> registration time
    KEYS[2+5(i-1)..] account i: slots ZSET, submits ZSET, turn HASH, paused STRING, tasks HASH
    ARGV[1] jobId
    ARGV[2] now in ms, or '' for the Redis server's time
    ARGV[3] window mode: 'rolling' | 'utc-day'
    ARGV[4] window in ms (rolling only)
    ARGV[5] slot lease in ms
    ARGV[6+5(i-1)..] account i: name, maxConcurrent, dailyLimit ('' for none), eligible ('1': may
                     be given new work; '0': only searched for the job's own slot, e.g. it cannot
                     pay), rates (see _turn.lua)

  Output:
    {'granted', account}
    {'interval', account, waitMs}  the turn is reserved for this job when no one else holds it
    {'quota', waitMs}              ms until the earliest window opening
    {'concurrency'} | {'paused'}
]]
--- @include "_clock"
--- @include "_slots"
--- @include "_quota"
--- @include "_turn"

local waitersKey = KEYS[1]
local jobId = ARGV[1]
local now = clockMs(ARGV[2])
local windowMode = ARGV[3]
local windowMs = tonumber(ARGV[4])
local leaseMs = tonumber(ARGV[5])

local open = {}
local held
for i = 1, (#KEYS - 1) / 5 do
  local k = 1 + (i - 1) * 5
  local v = 6 + (i - 1) * 5
  local a = {
    name = ARGV[v], maxConcurrent = tonumber(ARGV[v + 1]), dailyLimit = tonumber(ARGV[v + 2]),
    slots = KEYS[k + 1], submits = KEYS[k + 2], turn = KEYS[k + 3], paused = KEYS[k + 4], tasks = KEYS[k + 5],
    order = i,
  }
  dropExpiredSlots(a.slots, a.tasks, now)
  pruneQuota(a.submits, now, windowMode, windowMs)
  a.t = readTurn(a.turn, now, parseRates(ARGV[v + 4]))
  if a.t.resBy == jobId then
    -- Dropped now and set again below if this account is still the choice.
    redis.call('HDEL', a.turn, 'resBy', 'resAt')
  end
  a.turnAt = turnAt(a.t, now, 'create', jobId, true)
  a.held = redis.call('ZSCORE', a.slots, jobId) ~= false
  if a.held then held = a end
  if ARGV[v + 3] == '1' and redis.call('EXISTS', a.paused) == 0 then
    a.inFlight = redis.call('ZCARD', a.slots)
    if a.dailyLimit then a.used, a.reopensAt = countQuota(a.submits, now, windowMode, windowMs, a.dailyLimit) end
    open[#open + 1] = a
  end
end

-- Without a daily quota (the kie-2026 profile documents none) submits are not even recorded.
local function hasQuota(a)
  return a.dailyLimit == nil or a.used < a.dailyLimit
end

local function sooner(a, b)
  if a.turnAt ~= b.turnAt then return a.turnAt < b.turnAt end
  if a.inFlight ~= b.inFlight then return a.inFlight < b.inFlight end
  if a.t.lastSubmit ~= b.t.lastSubmit then return a.t.lastSubmit < b.t.lastSubmit end
  return a.order < b.order
end

local chosen = held
for _, a in ipairs(held and {} or open) do
  if a.inFlight < a.maxConcurrent and hasQuota(a) and (chosen == nil or sooner(a, chosen)) then
    chosen = a
  end
end

if chosen == nil then
  if #open == 0 then
    redis.call('ZADD', waitersKey, 'NX', now, jobId)
    return {'paused'}
  end
  local reopensAt
  for _, a in ipairs(open) do
    if hasQuota(a) then
      redis.call('ZADD', waitersKey, 'NX', now, jobId)
      return {'concurrency'}
    end
    if reopensAt == nil or a.reopensAt < reopensAt then reopensAt = a.reopensAt end
  end
  redis.call('ZREM', waitersKey, jobId)
  return {'quota', reopensAt - now}
end

redis.call('ZREM', waitersKey, jobId)
if chosen.turnAt > now then
  if chosen.t.resBy == nil or chosen.t.resBy == jobId then
    redis.call('HSET', chosen.turn, 'resBy', jobId, 'resAt', chosen.turnAt)
  end
  return {'interval', chosen.name, chosen.turnAt - now}
end

redis.call('ZADD', chosen.slots, now + leaseMs, jobId)
if not chosen.held and chosen.dailyLimit then recordSubmit(chosen.submits, jobId, now) end
grantTurn(chosen.t, 'create', now)
redis.call('HSET', chosen.turn, 'lastSubmit', now)
return {'granted', chosen.name}
