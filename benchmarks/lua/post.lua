-- POST /users/ with an address no run has used. Args: a prefix unique to this run.
local prefix
local counter = 0
local headers = {["Content-Type"] = "application/json"}
init = function(args)
  prefix = args[1]
end
request = function()
  counter = counter + 1
  local body = string.format('{"name": "Bench User", "email": "%s-%d@example.com"}', prefix, counter)
  return wrk.format("POST", "/users/", headers, body)
end
