-- GET /users/{id} of a random loaded user. Args: number of loaded users.
local users
init = function(args)
  users = tonumber(args[1])
  math.randomseed(os.time())
end
request = function()
  return wrk.format("GET", "/users/" .. math.random(1, users))
end
