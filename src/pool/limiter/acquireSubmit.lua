--[[
  Takes one submit for a job: a slot, a quota unit, the next request turn and the job's price
  (reserved against the daily, tenant and batch budgets), on the account that can start it
  soonest. Atomic across the accounts, so two workers never pick the same last slot, and no fleet
  spends past a budget by even one job.

  Choice: the job's own live slot first, on whichever configured account holds it, paused or not
  eligible included (a worker that crashed after acquiring, or after spending the account's
  credits, retries: it gets the same slot again, with no second slot, quota unit or charge, and the
  first slot does not sit idle until its lease runs out). Otherwise, among the eligible accounts
  that are not paused and have a free slot and quota: the earliest turn (now, if any can grant
  now), then the fewest in flight, then the oldest last submit (so accounts share a backlog),
  then the order given.

  Refusals, in this order:
    'budget'   the price does not fit a budget (daily, the tenant's, the batch's) beside what the
               window's charges and the batch already hold: the job is a budget waiter (raising a
               budget wakes it), or, when the price alone exceeds the budget, it never fits.
    'tenant'   the tenant's own daily submits or concurrency (TENANT_LIMITS) are used up.
    'quota'    no eligible account has quota left.
    'concurrency' every eligible account with quota is full; 'paused' every eligible account is
               paused. Both register the job as a waiter (a release wakes it), and its tenant as
               waiting.
    'fair'     (fair shares on) a slot is free but another waiting tenant goes first: fewer in
               flight, or as many and an older waiter.
  A refused job that leaves a slot free hands it over: the answer names a waiter to wake (the
  oldest waiter of the waiting tenant with the fewest in flight).

  Input:
    KEYS[1]           waiters ZSET (pool-wide): jobId -> registration time
    KEYS[2..5]        spend: charges ZSET, amounts HASH, totals HASH, reserved HASH (_spend.lua)
    KEYS[6]           slot tenants HASH, KEYS[7] waiting tenants ZSET (_tenants.lua)
    KEYS[8]           budget waiters ZSET: jobId -> registration time
    KEYS[9], KEYS[10] the job's batch record HASH and jobs HASH (any unused key when none)
    KEYS[11+5(i-1)..] account i: slots ZSET, submits ZSET, turn HASH, paused STRING, tasks HASH
    ARGV[1] jobId
    ARGV[2] now in ms, or '' for the Redis server's time
    ARGV[3] window mode: 'rolling' | 'utc-day'
    ARGV[4] window in ms (rolling only)
    ARGV[5] slot lease in ms
    ARGV[6] the job's tenant
    ARGV[7] the job's price in micro-USD
    ARGV[8] daily budget in micro-USD, '' for none
    ARGV[9] tenant limits JSON: {"<tenant>": {"c": concurrent, "d": daily submits, "b": micro-USD}}
    ARGV[10] the job's id in its batch, '' for none
    ARGV[11] waiting tenants' heartbeat TTL in ms; 0 turns fair shares off
    ARGV[12] key prefix of the per-tenant waiter ZSETs (the tenant name follows)
  (The handed HASH of _tenants.lua is KEYS[6] .. ':handed'.)
    ARGV[13+5(i-1)..] account i: name, maxConcurrent, dailyLimit ('' for none), eligible ('1': may
                     be given new work; '0': only searched for the job's own slot, e.g. it cannot
                     pay), rates (see _turn.lua)

  Output:
    {'granted', account}
    {'interval', account, waitMs}  the turn is reserved for this job when no one else holds it
    {'quota', waitMs}              ms until the earliest window opening
    {'concurrency'} | {'paused'}
    {'budget', 'daily' | 'tenant' | 'batch', 'wait' | 'never', waitMs or 0, wake}
    {'tenant', 'daily' | 'concurrent', waitMs or 0, wake}
    {'fair', wake}
    (wake: a waiter's jobId, or '')
]]
--- @include "_clock"
--- @include "_slots"
--- @include "_quota"
--- @include "_turn"
--- @include "_spend"
--- @include "_tenants"

local waitersKey = KEYS[1]
local s = { charges = KEYS[2], amounts = KEYS[3], totals = KEYS[4], reserved = KEYS[5] }
local waiterPrefix = ARGV[12]
local t = { slotTenants = KEYS[6], waiting = KEYS[7], handed = KEYS[6] .. ':handed', waitersOf = function(x) return waiterPrefix .. x end }
local budgetWaiters, batchRecord, batchJobs = KEYS[8], KEYS[9], KEYS[10]
local jobId = ARGV[1]
local now = clockMs(ARGV[2])
local windowMode = ARGV[3]
local windowMs = tonumber(ARGV[4])
local leaseMs = tonumber(ARGV[5])
local tenant = ARGV[6]
local price = tonumber(ARGV[7])
local dailyBudget = tonumber(ARGV[8])
local limits = cjson.decode(ARGV[9])
local own = limits[tenant] or {}
local batchJobId = ARGV[10]
local fairTtl = tonumber(ARGV[11])
local fair = fairTtl > 0

local all, open = {}, {}
local held
for i = 1, (#KEYS - 10) / 5 do
  local k = 10 + (i - 1) * 5
  local v = 13 + (i - 1) * 5
  local a = {
    name = ARGV[v], maxConcurrent = tonumber(ARGV[v + 1]), dailyLimit = tonumber(ARGV[v + 2]),
    slots = KEYS[k + 1], submits = KEYS[k + 2], turn = KEYS[k + 3], paused = KEYS[k + 4], tasks = KEYS[k + 5],
    order = i,
  }
  all[#all + 1] = a
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
pruneCharges(s, now, windowMode, windowMs)
if fair then dropStaleTenants(t, now, fairTtl) end

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

local counts
local function inFlight()
  counts = counts or tenantsInFlight(t, all)
  return counts
end

local function leaveWaiters()
  redis.call('ZREM', waitersKey, jobId)
  if fair then unregisterTenantWaiter(t, tenant, jobId) end
end

-- A refused job leaves the free slot it was offered to the fairest waiting tenant's oldest waiter.
local function handOff()
  if chosen == nil or chosen.held then return '' end
  if not fair then
    local popped = redis.call('ZPOPMIN', waitersKey)
    return popped[1] or ''
  end
  local x = fairestWaitingTenant(t, inFlight(), limits, tenant, now, nil)
  return x and popTenantWaiter(t, x, waitersKey, now) or ''
end

-- A job holding a reservation (granted before, nothing created or refunded since) is not charged twice.
local reserved = redis.call('HEXISTS', s.reserved, jobId) == 1

local function budgetRefusal()
  if reserved or price == 0 then return nil end
  local budgets = {
    { 'daily', dailyBudget, totalOf(s, 'usd') },
    { 'tenant', own.b, totalOf(s, 'usd:' .. tenant) },
  }
  if batchJobId ~= '' then
    local b = redis.call('HMGET', batchRecord, 'budgetMicroUsd', 'spentMicroUsd', 'reservedMicroUsd')
    if b[1] then budgets[#budgets + 1] = { 'batch', tonumber(b[1]), tonumber(b[2] or '0') + tonumber(b[3] or '0') } end
  end
  for _, b in ipairs(budgets) do
    local scope, budget, used = b[1], b[2], b[3]
    if budget ~= nil then
      if price > budget then return scope, 'never' end
      if used + price > budget then return scope, 'wait' end
    end
  end
  return nil
end

local scope, fits = budgetRefusal()
if scope then
  leaveWaiters()
  local waitMs = 0
  if fits == 'wait' then
    redis.call('ZADD', budgetWaiters, 'NX', now, jobId)
    if scope ~= 'batch' then waitMs = windowReopensIn(s, now, windowMode, windowMs, scope == 'tenant' and tenant or nil) end
  else
    redis.call('ZREM', budgetWaiters, jobId)
  end
  return { 'budget', scope, fits, waitMs, handOff() }
end
redis.call('ZREM', budgetWaiters, jobId)

if not held and own.d and totalOf(s, 'n:' .. tenant) >= own.d then
  leaveWaiters()
  return { 'tenant', 'daily', windowReopensIn(s, now, windowMode, windowMs, tenant), handOff() }
end

if chosen == nil then
  if #open == 0 then
    redis.call('ZADD', waitersKey, 'NX', now, jobId)
    if fair then registerTenantWaiter(t, tenant, jobId, now) end
    return {'paused'}
  end
  local reopensAt
  for _, a in ipairs(open) do
    if hasQuota(a) then
      redis.call('ZADD', waitersKey, 'NX', now, jobId)
      if fair then registerTenantWaiter(t, tenant, jobId, now) end
      return {'concurrency'}
    end
    if reopensAt == nil or a.reopensAt < reopensAt then reopensAt = a.reopensAt end
  end
  leaveWaiters()
  return {'quota', reopensAt - now}
end

if not chosen.held then
  local mine = own.c and (inFlight()[tenant] or 0)
  if mine and mine >= own.c then
    -- A release wakes it; its tenant is not waiting for a share meanwhile.
    if fair then unregisterTenantWaiter(t, tenant, jobId) end
    local wake = handOff()
    redis.call('ZADD', waitersKey, 'NX', now, jobId)
    return { 'tenant', 'concurrent', 0, wake }
  end
  if fair and not takeHanded(t, jobId) then
    local mineNow = { count = inFlight()[tenant] or 0, since = waitingSince(t, tenant, now) }
    local fairer = fairestWaitingTenant(t, inFlight(), limits, tenant, now, mineNow)
    if fairer then
      local wake = popTenantWaiter(t, fairer, waitersKey, now)
      redis.call('ZADD', waitersKey, 'NX', now, jobId)
      registerTenantWaiter(t, tenant, jobId, now)
      return { 'fair', wake }
    end
  end
end

leaveWaiters()
if chosen.turnAt > now then
  if chosen.t.resBy == nil or chosen.t.resBy == jobId then
    redis.call('HSET', chosen.turn, 'resBy', jobId, 'resAt', chosen.turnAt)
  end
  return {'interval', chosen.name, chosen.turnAt - now}
end

redis.call('ZADD', chosen.slots, now + leaseMs, jobId)
redis.call('HSET', t.slotTenants, jobId, tenant)
if not chosen.held and chosen.dailyLimit then recordSubmit(chosen.submits, jobId, now) end
if not reserved then
  recordCharge(s, jobId, tenant, price, batchJobId, now)
  reserveInBatch(batchRecord, batchJobs, batchJobId, price)
end
grantTurn(chosen.t, 'create', now)
redis.call('HSET', chosen.turn, 'lastSubmit', now)
return {'granted', chosen.name}
