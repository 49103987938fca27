--[[
  Fair shares: tenants with jobs waiting for a slot take turns, the one with the fewest tasks in
  flight first.

    t.slotTenants  HASH jobId -> tenant of the job holding a slot (set on the grant). Counts are
                   read from the slots themselves, so a slot dropped by a release or a lease that
                   ran out drops its count: nothing to leak.
    t.waiting      ZSET tenant -> heartbeat (ms): tenants whose jobs wait for a slot. A tenant not
                   heard from for the heartbeat TTL is dropped with its waiters, so a dead one
                   never holds the others back.
    t.waitersOf(x) ZSET jobId -> registration time: the waiters of tenant x (each also in the
                   pool-wide waiters set, which releases wake from).
    t.handed       HASH jobId -> when a refused job handed it a free slot: it takes the slot
                   without a second fairness check (it lost its place among the waiters when it
                   was woken); an entry older than the heartbeat TTL is void.
]]

-- Tasks in flight per tenant over the given accounts' slots; drops tenant entries of slots gone.
local function tenantsInFlight(t, accounts)
  local counts, held, total = {}, {}, 0
  for _, a in ipairs(accounts) do
    local members = redis.call('ZRANGE', a.slots, 0, -1)
    if #members > 0 then
      local tenants = redis.call('HMGET', t.slotTenants, unpack(members))
      for i, m in ipairs(members) do
        local x = tenants[i] or ''
        counts[x] = (counts[x] or 0) + 1
        held[m] = true
      end
      total = total + #members
    end
  end
  if redis.call('HLEN', t.slotTenants) > total then
    for _, m in ipairs(redis.call('HKEYS', t.slotTenants)) do
      if not held[m] then redis.call('HDEL', t.slotTenants, m) end
    end
  end
  return counts
end

local function forgetTenantIfIdle(t, tenant)
  if redis.call('ZCARD', t.waitersOf(tenant)) == 0 then redis.call('ZREM', t.waiting, tenant) end
end

local function dropStaleTenants(t, now, ttl)
  for _, x in ipairs(redis.call('ZRANGEBYSCORE', t.waiting, '-inf', now - ttl)) do
    redis.call('DEL', t.waitersOf(x))
    redis.call('ZREM', t.waiting, x)
  end
  local handed = redis.call('HGETALL', t.handed)
  for i = 1, #handed, 2 do
    if tonumber(handed[i + 1]) <= now - ttl then redis.call('HDEL', t.handed, handed[i]) end
  end
end

-- True (once) when a refused job handed this one a free slot.
local function takeHanded(t, jobId)
  return redis.call('HDEL', t.handed, jobId) == 1
end

-- A job waits for a slot: a waiter of its tenant, and the tenant's heartbeat.
local function registerTenantWaiter(t, tenant, jobId, now)
  redis.call('ZADD', t.waitersOf(tenant), 'NX', now, jobId)
  redis.call('ZADD', t.waiting, now, tenant)
end

local function unregisterTenantWaiter(t, tenant, jobId)
  redis.call('ZREM', t.waitersOf(tenant), jobId)
  forgetTenantIfIdle(t, tenant)
end

-- When the tenant's oldest waiter registered (now, if it has none).
local function waitingSince(t, tenant, now)
  local oldest = redis.call('ZRANGE', t.waitersOf(tenant), 0, 0, 'WITHSCORES')
  return oldest[2] and tonumber(oldest[2]) or now
end

--[[
  The waiting tenant (other than `except`, under its own concurrency cap, with waiters) that goes
  first: the fewest in flight, then the oldest waiter, so two tenants with as many in flight take
  turns and never hand a slot back and forth. With `than` ({count, since}), only a tenant that
  goes before it.
]]
local function fairestWaitingTenant(t, counts, limits, except, now, than)
  local best
  for _, x in ipairs(redis.call('ZRANGE', t.waiting, 0, -1)) do
    local c = counts[x] or 0
    local cap = limits[x] and limits[x].c
    if x ~= except and (cap == nil or c < cap) and redis.call('ZCARD', t.waitersOf(x)) > 0 then
      local cand = { name = x, count = c, since = waitingSince(t, x, now) }
      local before = function(a, b) return a.count < b.count or (a.count == b.count and a.since < b.since) end
      if (than == nil or before(cand, than)) and (best == nil or before(cand, best)) then best = cand end
    end
  end
  return best and best.name
end

-- Hands a free slot to the oldest waiter of a tenant: it leaves the waiter sets and is woken.
local function popTenantWaiter(t, tenant, poolWaiters, now)
  local popped = redis.call('ZPOPMIN', t.waitersOf(tenant))
  forgetTenantIfIdle(t, tenant)
  if #popped == 0 then return '' end
  redis.call('ZREM', poolWaiters, popped[1])
  redis.call('HSET', t.handed, popped[1], now)
  return popped[1]
end
