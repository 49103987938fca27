--[[
  Puts a paused account back into rotation and wakes as many waiters as it has free slots.

  Input:
    KEYS[1] paused STRING of the account
    KEYS[2] slots ZSET of the account
    KEYS[3] tasks HASH of the account
    KEYS[4] waiters ZSET (pool-wide)
    ARGV[1] maxConcurrent of the account
    ARGV[2] now in ms, or '' for the Redis server's time

  Output: jobIds of the woken waiters, oldest first
]]
--- @include "_clock"
--- @include "_slots"

redis.call('DEL', KEYS[1])
dropExpiredSlots(KEYS[2], KEYS[3], clockMs(ARGV[2]))
return wakeWaiters(KEYS[4], KEYS[2], KEYS[1], tonumber(ARGV[1]))
