"""The base class of every error the project reports to a user as one line.

`bert2bert.cli.main` prints a `Bert2BertError` (a bad config value, data file, checkpoint or
option) as one line naming the file, key or line, and exits with code 2; anything else is
an internal error. Subclasses: `ConfigError`, `CheckpointError`, `DataFormatError`,
`DataUnavailableError`, `FileFormatError`, `UsageError`.
"""


class Bert2BertError(Exception):
    """A mistake in what the user gave; the message names the file, key or line."""


class FileFormatError(Bert2BertError, ValueError):
    """A file that exists but is not what it should be (not UTF-8, malformed JSON, ...)."""


class UsageError(Bert2BertError, ValueError):
    """A bad command-line option or combination of options; the message names the option."""
