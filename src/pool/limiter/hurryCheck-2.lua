--[[
  A callback says the task is done: its status check becomes due before every other (score 0,
  which no real due time has), so the account's next read turn confirms it and refills the slot.
  The callback's time is kept on the account: while callbacks arrive, claimCheck lets the
  safety-net checks back off.

  Input:
    KEYS[1] checks ZSET of the account
    KEYS[2] turn HASH of the account
    ARGV[1] member (the job's slot member)
    ARGV[2] now in ms, or '' for the Redis server's time

  Output: 1 when the check was hurried, 0 when the task has none scheduled (not in flight)
]]
--- @include "_clock"

redis.call('HSET', KEYS[2], 'callbackAt', clockMs(ARGV[2]))
return redis.call('ZADD', KEYS[1], 'XX', 'CH', 0, ARGV[1])
