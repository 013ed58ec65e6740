"""The embedded demo: a region of mines with stand-in stations."""
