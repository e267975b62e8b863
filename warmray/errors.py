"""The one base of every anticipated error: the command line ends it with one paragraph and exit code 2.

A bad config, a stage that cannot run, an unusable input file, a busy run directory, an unreachable
endpoint: each error class for these subclasses `UserError`. Anything else is a bug in warmray, and the
command line shows its traceback and asks for a report.
"""


class UserError(Exception):
    """An error the user can fix; its message says what is wrong and what would be valid."""
