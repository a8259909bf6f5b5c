"""WebSub: the service is the hub of its own feeds, a channel on the delivery engine."""
