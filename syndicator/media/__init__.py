"""Media files: names, storage, the content folder's files and relative links to them."""
