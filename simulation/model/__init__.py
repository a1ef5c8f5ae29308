"""Building blocks of the library-day model: scenario-section validation, opening hours, walking.

The public names live in :mod:`simulation`; these modules are shared by ``demand``, ``services``,
``physics``, ``readers`` and ``day``.
"""
