--[[
  Renews the lease of a job's slot. Only a slot still held is renewed: a renewal racing a
  release must not bring the slot back.

  Input:
    KEYS[1] slots ZSET of the account
    ARGV[1] jobId
    ARGV[2] slot lease in ms
    ARGV[3] now in ms, or '' for the Redis server's time

  Output: 1 if renewed, 0 if the job held no slot
]]
--- @include "_clock"

return redis.call('ZADD', KEYS[1], 'XX', 'CH', clockMs(ARGV[3]) + tonumber(ARGV[2]), ARGV[1])
