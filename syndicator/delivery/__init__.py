"""The delivery engine: the outbound queue, retries, the attempt log and outbound HTTP."""
