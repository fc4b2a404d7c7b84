"""Help pages laid out as step's: NAME, USAGE, DESCRIPTION, POSITIONAL ARGUMENTS, OPTIONS, EXAMPLES.

A command group ends with COMMANDS (its subcommands and their one-line summaries), as step's groups do.
Text is wrapped paragraph by paragraph (paragraphs are separated by a blank line); a line that starts with
whitespace is kept as written, for lists and tables. Commands register through :func:`add_command` and
:func:`add_group`, which require the summary, the description and the examples every page must have.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, TypeAlias

WIDTH = 80
INDENT = " " * 6  # step's section indentation
ITEM_INDENT = " " * 4  # an option's text, and an example's command, below its heading
SECTIONS = ("NAME", "USAGE", "DESCRIPTION", "POSITIONAL ARGUMENTS", "OPTIONS", "EXAMPLES", "COMMANDS")

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class Example(NamedTuple):
    """What the example does, and the shell line(s): an indented line continues the line above it."""

    what: str
    command: str


def paragraphs(text: str, width: int) -> list[str]:
    """``text`` wrapped to ``width`` paragraph by paragraph; indented lines are kept as written."""
    lines: list[str] = []
    for block in textwrap.dedent(text).strip("\n").split("\n\n"):
        if lines:
            lines.append("")
        prose: list[str] = []
        for line in block.splitlines():
            if line[:1].isspace():
                lines.extend(_wrap(prose, width))
                prose = []
                lines.append(line.rstrip())
            else:
                prose.append(line.strip())
        lines.extend(_wrap(prose, width))
    return lines


def _wrap(prose: list[str], width: int) -> list[str]:
    return textwrap.wrap(" ".join(prose), width, break_on_hyphens=False, break_long_words=False)


class StepHelpFormatter(argparse.HelpFormatter):
    """Options as step shows them: ``-f, --force`` or ``--ca-url=URI``, the help indented on the lines below."""

    def __init__(self, prog: str, indent_increment: int = 0, max_help_position: int = len(ITEM_INDENT),
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment=0, max_help_position=len(ITEM_INDENT),
                         width=width or WIDTH - len(INDENT))

    def _format_action(self, action: argparse.Action) -> str:
        return "".join(line.rstrip() + "\n" for line in super()._format_action(action).splitlines()) + "\n"

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings:
            return self._metavar_formatter(action, self._get_default_metavar_for_positional(action))(1)[0]
        names = ", ".join(action.option_strings)
        if action.nargs == 0:
            return names
        metavar = self._metavar_formatter(action, self._get_default_metavar_for_optional(action))(1)[0]
        return f"{names}[={metavar}]" if action.nargs == argparse.OPTIONAL else f"{names}={metavar}"

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        return "value"

    def _get_default_metavar_for_positional(self, action: argparse.Action) -> str:
        return action.dest.replace("_", "-")

    def _split_lines(self, text: str, width: int) -> list[str]:
        return paragraphs(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(indent + line if line else "" for line in paragraphs(text, width))


class CommandParser(argparse.ArgumentParser):
    """An argparse parser whose ``--help`` is a step-style page. Subparsers inherit the class."""

    def __init__(self, *args: Any, summary: str = "", examples: Sequence[Example] = (), **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", StepHelpFormatter)
        super().__init__(*args, **kwargs)
        self.summary = summary
        self.examples = tuple(examples)

    def format_help(self) -> str:
        width = WIDTH - len(INDENT)
        subcommands = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
        positionals = [a for a in self._actions if not a.option_strings and a not in subcommands]
        optionals = [a for a in self._actions if a.option_strings and a.help != argparse.SUPPRESS]
        usage = self._get_formatter()
        usage.add_usage(self.usage, self._actions, self._mutually_exclusive_groups, prefix="")
        sections: list[tuple[str, list[str]]] = [
            ("NAME", paragraphs(f"{self.prog} -- {self.summary}" if self.summary else self.prog, width)),
            ("USAGE", usage.format_help().strip("\n").splitlines()),
        ]
        if self.description:
            sections.append(("DESCRIPTION", paragraphs(self.description, width)))
        if positionals:
            sections.append(("POSITIONAL ARGUMENTS", self._actions_text(positionals)))
        if optionals:
            sections.append(("OPTIONS", self._actions_text(optionals)))
        if self.examples:
            sections.append(("EXAMPLES", _examples_text(self.examples, width)))
        if subcommands:
            sections.append(("COMMANDS", _commands_text(subcommands)))
        return "\n".join(
            title + "\n" + "\n".join(INDENT + line if line else "" for line in body) + "\n"
            for title, body in sections
        )

    def _actions_text(self, actions: Iterable[argparse.Action]) -> list[str]:
        formatter = self._get_formatter()
        formatter.add_arguments(list(actions))
        return formatter.format_help().rstrip("\n").splitlines()


def _examples_text(examples: Sequence[Example], width: int) -> list[str]:
    lines: list[str] = []
    for example in examples:
        if lines:
            lines.append("")
        lines.extend(paragraphs(example.what, width))
        lines.append("")
        for line in textwrap.dedent(example.command).strip("\n").splitlines():
            lines.append(ITEM_INDENT + ("  " + line.strip() if line[:1].isspace() else "$ " + line))
    return lines


def _commands_text(actions: Iterable[Commands]) -> list[str]:
    rows = [(choice.dest, choice.help or "") for action in actions for choice in action._get_subactions()]
    width = max(len(name) for name, _ in rows)
    return [f"{name.ljust(width)}  {text}" for name, text in rows]


def add_command(commands: Commands, name: str, *, summary: str, description: str,
                examples: Sequence[Example], **kwargs: Any) -> argparse.ArgumentParser:
    """A command with its one-line summary (NAME, and the parent's COMMANDS), description and examples."""
    return commands.add_parser(name, help=summary, summary=summary, description=description, examples=examples,
                               **kwargs)


def add_group(commands: Commands, name: str, *, summary: str, description: str, examples: Sequence[Example],
              dest: str, metavar: str = "<subcommand>") -> Commands:
    """A command group: its page, and the subparsers its subcommands are added to."""
    group = add_command(commands, name, summary=summary, description=description, examples=examples)
    return group.add_subparsers(dest=dest, metavar=metavar, required=True)


# Help shared by several commands, said once so it stays the same everywhere.
DURATION = ("A duration is a sequence of numbers, each with a unit suffix, such as 300ms, 1.5h or 2h45m "
            "(units: ns, us, ms, s, m, h).")
TIME_OR_DURATION = f"Give an RFC 3339 time (2026-06-01T12:00:00Z) or a duration from now. {DURATION}"
KEY_TYPE = "The type of key to generate: EC (the default), RSA or OKP (Ed25519). Case-insensitive."
CURVE = ("The curve of the key: for EC, P-256 (the default), P-384 or P-521; for OKP, Ed25519 (the default and "
         "only choice). Case-sensitive; ignored for RSA.")
KEY_SIZE = "The size in bits of an RSA key: 2048 (the default) or more, a multiple of 8. Ignored for EC and OKP."
