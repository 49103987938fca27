--[[
  Spend: every new submit grant records a charge (the job's price in micro-USD and its tenant) in
  the same daily window as the quota (see _quota.lua), and running totals of the charges still in
  the window: 'usd', 'usd:<tenant>' and 'n:<tenant>' (submits). A charge stays counted until it
  leaves the window; only a refund (KIE proved nothing was created) takes it out early. Until its
  task is created, the job holds an open reservation, which a refund gives back and a created task
  turns into spend (confirmCharge).

    s.charges   ZSET chargeMember ("jobId:time") -> time
    s.amounts   HASH chargeMember -> "micro|tenant"
    s.totals    HASH usd, usd:<tenant>, n:<tenant>
    s.reserved  HASH jobId -> JSON {c: chargeMember, b: the job's id in its batch or ''}
]]
--- @include "_quota"

local function addTotal(totals, field, delta)
  if delta == 0 then return end
  if redis.call('HINCRBY', totals, field, delta) == 0 then redis.call('HDEL', totals, field) end
end

-- Takes one charge out of the totals (and its amount), if it is still counted.
local function dropCharge(s, member)
  local v = redis.call('HGET', s.amounts, member)
  if not v then return 0 end
  local micro, tenant = string.match(v, '^(%d+)|(.*)$')
  addTotal(s.totals, 'usd', 0 - tonumber(micro))
  addTotal(s.totals, 'usd:' .. tenant, 0 - tonumber(micro))
  addTotal(s.totals, 'n:' .. tenant, -1)
  redis.call('HDEL', s.amounts, member)
  redis.call('ZREM', s.charges, member)
  return tonumber(micro)
end

local function readReservation(s, jobId)
  local open = redis.call('HGET', s.reserved, jobId)
  return open and cjson.decode(open) or nil
end

-- Charges that left the window leave the totals, with any reservation still pointing at them.
local function pruneCharges(s, now, windowMode, windowMs)
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', s.charges, '-inf', windowFloor(now, windowMode, windowMs))) do
    dropCharge(s, member)
    local jobId = string.match(member, '^(.*):%d+[%.%d]*$')
    local open = jobId and readReservation(s, jobId)
    if open and open.c == member then redis.call('HDEL', s.reserved, jobId) end
  end
end

local function recordCharge(s, jobId, tenant, micro, batchJobId, now)
  local member = jobId .. ':' .. now
  local n = 1
  while redis.call('ZSCORE', s.charges, member) do
    n = n + 1
    member = jobId .. ':' .. now .. '.' .. n
  end
  redis.call('ZADD', s.charges, now, member)
  redis.call('HSET', s.amounts, member, micro .. '|' .. tenant)
  addTotal(s.totals, 'usd', micro)
  addTotal(s.totals, 'usd:' .. tenant, micro)
  addTotal(s.totals, 'n:' .. tenant, 1)
  redis.call('HSET', s.reserved, jobId, cjson.encode({ c = member, b = batchJobId }))
end

local function totalOf(s, field)
  return tonumber(redis.call('HGET', s.totals, field) or '0')
end

-- When the window gives money or submits back next: midnight UTC, or when the oldest charge
-- (of the tenant, if given) leaves a rolling window.
local function windowReopensIn(s, now, windowMode, windowMs, tenant)
  if windowMode == 'utc-day' then return now - (now % DAY_MS) + DAY_MS - now end
  for _, member in ipairs(redis.call('ZRANGE', s.charges, 0, -1)) do
    local v = redis.call('HGET', s.amounts, member)
    if tenant == nil or (v and string.match(v, '^%d+|(.*)$') == tenant) then
      return math.max(1, tonumber(redis.call('ZSCORE', s.charges, member)) + windowMs - now)
    end
  end
  return windowMs
end

--[[
  A batch's share: the job's entry in the batch's jobs HASH is "state|seq|reserved|spent"
  (moveBatchJob.lua). The reservation is taken once per submit, here or at the batch's gate,
  whichever comes first.
]]
local function readBatchJob(jobs, batchJobId)
  local entry = redis.call('HGET', jobs, batchJobId)
  if not entry then return nil end
  local state, seq, reserved, spent = string.match(entry, '^(%a+)|(%d+)|(%d+)|(%d+)$')
  return { state = state, seq = seq, reserved = tonumber(reserved), spent = tonumber(spent) }
end

local function writeBatchJob(jobs, batchJobId, e)
  redis.call('HSET', jobs, batchJobId, e.state .. '|' .. e.seq .. '|' .. e.reserved .. '|' .. e.spent)
end

local function reserveInBatch(record, jobs, batchJobId, micro)
  if batchJobId == '' or redis.call('EXISTS', record) == 0 then return end
  local e = readBatchJob(jobs, batchJobId)
  if e == nil or e.reserved ~= 0 then return end
  e.reserved = micro
  writeBatchJob(jobs, batchJobId, e)
  redis.call('HINCRBY', record, 'reservedMicroUsd', micro)
end

-- The reservation ends: 'spend' keeps the money as spent, 'refund' gives it back.
local function settleInBatch(record, jobs, batchJobId, how)
  if batchJobId == '' then return end
  local e = readBatchJob(jobs, batchJobId)
  if e == nil or e.reserved == 0 then return end
  redis.call('HINCRBY', record, 'reservedMicroUsd', 0 - e.reserved)
  if how == 'spend' then
    redis.call('HINCRBY', record, 'spentMicroUsd', e.reserved)
    e.spent = e.spent + e.reserved
  end
  e.reserved = 0
  writeBatchJob(jobs, batchJobId, e)
end
