"""Feeds: the catalog of feeds, documents, formats, the render cache and serving."""
