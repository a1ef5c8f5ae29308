"""The live mirror of each branch and the hub; the ``smartlib`` command line lives in twin.cli."""

__all__: list[str] = []
