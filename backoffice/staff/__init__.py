"""Browser pages for store and support staff."""
