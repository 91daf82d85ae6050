-- GET /users/{id} of a random loaded user, sending back a write's Consistency-Token.
-- Args: number of loaded users, the token.
local users
local headers
init = function(args)
  users = tonumber(args[1])
  headers = {["Consistency-Token"] = args[2]}
  math.randomseed(os.time())
end
request = function()
  return wrk.format("GET", "/users/" .. math.random(1, users), headers)
end
