"""The one error configuration loading raises."""

from __future__ import annotations


class ConfigError(Exception):
    """A one-line, operator-facing description of what is wrong, located by its JSON path.

    ``where`` is the full JSON path ending in the key exactly as written (``authority.provisioners[1].name``);
    ``source`` is the file (or the admin request) the document came from, when known.
    """

    def __init__(self, where: str, reason: str, *, source: str = "") -> None:
        self.where = where
        self.reason = reason
        self.source = source
        super().__init__(self._text())

    def _text(self) -> str:
        located = f"{self.where}: {self.reason}" if self.where else self.reason
        return f"{self.source}: {located}" if self.source else located

    def within(self, source: str) -> ConfigError:
        """The same error, said of a named file or request."""
        return ConfigError(self.where, self.reason, source=source)

    def under(self, prefix: str) -> ConfigError:
        """The same error with its path nested under ``prefix`` (a provisioner inside a list, say)."""
        where = f"{prefix}.{self.where}" if self.where and not self.where.startswith("[") else prefix + self.where
        return ConfigError(where, self.reason, source=self.source)
