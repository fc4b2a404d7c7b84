"""CLI failures: one line on stderr and a non-zero exit, never a traceback."""


class CLIError(Exception):
    """A message for the user; ``exit_code`` is what the process returns."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
