-- GET a keyset page of 50 that starts near the end of the table. Args: number of loaded users.
local users
init = function(args)
  users = tonumber(args[1])
  math.randomseed(os.time())
end
request = function()
  return wrk.format("GET", "/users/?limit=50&after=" .. (users - 50 - math.random(0, 1000)))
end
