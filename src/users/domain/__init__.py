"""The users domain: entities, rules and ports, free of any framework or driver."""
