--[[
  One request turn of an account for a task that is already running: a status check ('poll'),
  a resent submit ('retry') or a fresh download link ('refresh'). Paused accounts get turns too:
  their tasks in flight must still finish and be stored. Only 'poll' yields to a reserved
  turn (see _turn.lua for why).

  Input:
    KEYS[1] turn HASH of the account
    ARGV[1] kind: 'poll' | 'retry' | 'refresh'
    ARGV[2] spacing: ms between two grants (minIntervalMs + intervalMarginMs)
    ARGV[3] now in ms, or '' for the Redis server's time

  Output: 0 when granted, else the ms to wait before asking again
]]
--- @include "_clock"
--- @include "_turn"

local spacing = tonumber(ARGV[2])
local now = clockMs(ARGV[3])
local at = turnAt(readTurn(KEYS[1], now, spacing), now, spacing, false, ARGV[1] == 'poll')
if at > now then return at - now end
grantTurn(KEYS[1], now, spacing)
return 0
