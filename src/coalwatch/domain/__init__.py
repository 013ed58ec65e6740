"""The regulation as pure rules: no I/O, no clock, no ORM.

Every figure here is exact: gross tonnes are integer kilograms, raw tonnes are
integers in units of 1/10,000 kg (see :mod:`coalwatch.domain.units`), and the
capacities derived by division are :class:`fractions.Fraction`.
"""
