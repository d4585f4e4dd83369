"""The errors a user can fix: a bad flag, config value, dataset, workdir, checkpoint or file.

Every check of what a user asked for raises a `UserError` whose message names the bad value, what
is accepted and, where there is one, the fix. The `genzoo` command prints that message as one line
and exits with status 2 (`--debug` shows the traceback too); any other exception is a bug and keeps
its traceback. `UserError` is a `ValueError`, so library callers catch it as before.
"""


class UserError(ValueError):
  """Something the user asked for cannot be done as asked; the message says what and why."""


class MissingFileError(UserError, FileNotFoundError):
  """A file or directory the user named, or that a command needs, does not exist."""
