"""The users service: register, read, list, update and delete users over HTTP."""
