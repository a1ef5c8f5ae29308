"""The one error type of the application layer that a user's mistake raises."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in what the user asked for (an option, a name, a file); printed without a traceback."""
