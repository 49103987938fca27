--[[
  The fleet's clock is the Redis server's: worker hosts drift, the server is one. Tests pin time
  by passing a number instead of ''.
]]
local function clockMs(pinned)
  if pinned ~= nil and pinned ~= '' then return tonumber(pinned) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
