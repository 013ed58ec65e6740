"""What crosses the wire between station and center: record schemas and signatures.

The station imports this package and ``domain`` only; nothing of the center.
"""
