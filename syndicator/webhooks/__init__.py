"""Webhooks: endpoints, the fan-out of events, and Standard Webhooks signing."""
