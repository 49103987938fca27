--[[
  Puts a paused model back (an operator said so, or a probe's create succeeded) and hands back
  every job that waited for it, to be woken.

  Input:
    KEYS[1] paused HASH of the model
    KEYS[2] probe STRING of the model
    KEYS[3] waiters ZSET of the model

  Output: the waiting members, oldest first
]]

redis.call('DEL', KEYS[1], KEYS[2])
local waiters = redis.call('ZRANGE', KEYS[3], 0, -1)
redis.call('DEL', KEYS[3])
return waiters
