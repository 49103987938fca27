--[[
  Drops the slots whose lease ran out, reports them (for logs), and wakes one waiter per free
  slot. Every script drops expired slots as it goes, but only a release wakes waiters; this
  sweep, run now and then, wakes the waiters that a vanished job's slot would otherwise strand.

  Input:
    KEYS[1]          waiters ZSET (pool-wide)
    KEYS[2+3(i-1)..] account i: slots ZSET, tasks HASH, paused STRING
    ARGV[1] now in ms, or '' for the Redis server's time
    ARGV[2+2(i-1)..] account i: name, maxConcurrent

  Output: {{jobId to wake, ...}, {account, jobId, taskId or '', ...}}
]]
--- @include "_clock"
--- @include "_slots"

local now = clockMs(ARGV[1])
local woken, expired = {}, {}
for i = 1, (#KEYS - 1) / 3 do
  local k = 1 + (i - 1) * 3
  local name = ARGV[2 + (i - 1) * 2]
  local jobIds, taskIds = dropExpiredSlots(KEYS[k + 1], KEYS[k + 2], now)
  for j, jobId in ipairs(jobIds) do
    expired[#expired + 1] = name
    expired[#expired + 1] = jobId
    expired[#expired + 1] = taskIds[j] or ''
  end
  for _, jobId in ipairs(wakeWaiters(KEYS[1], KEYS[k + 1], KEYS[k + 3], tonumber(ARGV[3 + (i - 1) * 2]))) do
    woken[#woken + 1] = jobId
  end
end
return {woken, expired}
