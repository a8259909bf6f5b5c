"""Email digests: subscriptions, planning, composing, MIME and transports."""
