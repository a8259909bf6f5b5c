"""Audience: who follows each feed, counted from the server's own traffic and channels.

Nothing here keeps a person's address or User-Agent: pollers become salted
hashes in memory (the salt changes daily and is never written), and only
counts and sketches of those hashes reach the database (docs/audience.md).
"""
