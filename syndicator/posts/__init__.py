"""Posts: their rules, input fields, admin operations, files and the folder import."""
