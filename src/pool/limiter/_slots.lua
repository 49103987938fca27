--[[
  Slots: a ZSET per account, member jobId, score = lease expiry (ms). A slot belongs to the KIE
  task, so only a release frees it; the lease is the failsafe for a job that vanished. The
  task's id, once known, is kept in a HASH beside it (jobId -> taskId).
]]

-- Removes the slots whose lease ran out (expiry <= now); returns their jobIds and taskIds.
local function dropExpiredSlots(slotsKey, tasksKey, now)
  local expired = redis.call('ZRANGEBYSCORE', slotsKey, '-inf', now)
  local taskIds = {}
  if #expired > 0 then
    taskIds = redis.call('HMGET', tasksKey, unpack(expired))
    redis.call('ZREMRANGEBYSCORE', slotsKey, '-inf', now)
    redis.call('HDEL', tasksKey, unpack(expired))
  end
  return expired, taskIds
end

--[[
  Pops the oldest waiters, one per free slot of the account, none while it is paused. Waiters
  are pool-wide, so a woken job may find another account first; that is the point.
]]
local function wakeWaiters(waitersKey, slotsKey, pausedKey, maxConcurrent)
  if redis.call('EXISTS', pausedKey) == 1 then return {} end
  local free = maxConcurrent - redis.call('ZCARD', slotsKey)
  if free <= 0 then return {} end
  local woken = redis.call('ZRANGE', waitersKey, 0, free - 1)
  if #woken > 0 then redis.call('ZREM', waitersKey, unpack(woken)) end
  return woken
end
