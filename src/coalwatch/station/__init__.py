"""The mine-side station 主站: polls instruments over Modbus, keeps every record in
a local outbox and forwards it, signed, to the center.

It imports ``coalwatch.domain`` and ``coalwatch.wire`` only, never center code.
"""
