--[[
  One request turn of an account for a task that is already running: a status check ('poll'),
  a resent request ('retry') or a fresh download link ('refresh'). Paused accounts get turns too:
  their tasks in flight must still finish and be stored. Only 'poll' yields to a reserved
  turn (see _turn.lua for why).

  Input:
    KEYS[1] turn HASH of the account
    ARGV[1] kind: 'poll' | 'retry' | 'refresh'
    ARGV[2] the account's rates (see _turn.lua)
    ARGV[3] now in ms, or '' for the Redis server's time
    ARGV[4] request class: 'create' | 'read'

  Output: 0 when granted, else the ms to wait before asking again
]]
--- @include "_clock"
--- @include "_turn"

local now = clockMs(ARGV[3])
local cls = ARGV[4]
local t = readTurn(KEYS[1], now, parseRates(ARGV[2]))
local at = turnAt(t, now, cls, false, ARGV[1] == 'poll')
if at > now then return at - now end
grantTurn(t, cls, now)
return 0
