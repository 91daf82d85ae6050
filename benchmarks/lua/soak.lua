-- A mix of every endpoint, each request one the contract answers with a 2xx.
-- Args: stable users (ids 1..n, read and renamed), the first id this run may delete, how many
-- it may delete, a prefix for the addresses it registers.
local stable, first_deletable, deletable, prefix
local created, deleted = 0, 0
local json = {["Content-Type"] = "application/json"}
init = function(args)
  stable, first_deletable = tonumber(args[1]), tonumber(args[2])
  deletable, prefix = tonumber(args[3]), args[4]
  math.randomseed(os.time())
end
request = function()
  local roll = math.random(100)
  local id = math.random(1, stable)
  if roll <= 40 then
    return wrk.format("GET", "/users/" .. id)
  elseif roll <= 55 then
    created = created + 1
    local body = string.format('{"name": "Soak", "email": "%s-%d@example.com"}', prefix, created)
    return wrk.format("POST", "/users/", json, body)
  elseif roll <= 70 then
    return wrk.format("PATCH", "/users/" .. id, json, '{"name": "Renamed ' .. roll .. '"}')
  elseif roll <= 85 then
    return wrk.format("GET", "/users/?limit=50&after=" .. math.random(0, stable))
  elseif roll <= 95 or deleted >= deletable then
    return wrk.format("GET", "/users/?email=USER-" .. id .. "@Example.com")
  else
    deleted = deleted + 1
    return wrk.format("DELETE", "/users/" .. (first_deletable + deleted - 1))
  end
end
