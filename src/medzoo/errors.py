"""medzoo's exceptions and warnings, at the bottom of the import graph (they import nothing of medzoo).

Every user-facing error derives from :class:`MedzooError`: the CLI prints its message on one line, without a
traceback.
"""

from __future__ import annotations


class MedzooError(Exception):
    """A user-facing error: the CLI prints its message on one line, without a traceback."""


class UnknownNameError(MedzooError, KeyError):
    """A name that is not registered; the message suggests the closest names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DuplicateNameError(MedzooError):
    """Two plugins register the same name."""


class DataError(MedzooError, ValueError):
    """Bad input on disk: the message names the file and what is wrong with it."""


class RecipeError(MedzooError, ValueError):
    """A recipe field with a value it cannot take (``epochs=0``, ``batch_size=-1``, an unknown loss...)."""


class PluginLoadWarning(UserWarning):
    """A plugin, or something it provides, was skipped (it failed to import, a hook returned something that is
    not a list of specs, a spec names a module that is not installed or a name another plugin has): one line
    naming the plugin and its distribution; the rest of the zoo keeps working."""
