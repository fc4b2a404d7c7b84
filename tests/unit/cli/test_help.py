"""Every command's ``--help`` is a page laid out as step's, found by walking the whole argparse tree.

A command added without a summary, a description, explained arguments and two examples fails here: the walk
finds it on its own, nothing is listed by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
from collections.abc import Iterator

import pytest

from acmeca.cli.help import SECTIONS
from acmeca.cli.main import build_parser, main

REQUIRED = ("NAME", "USAGE", "DESCRIPTION", "OPTIONS", "EXAMPLES")
ENTRY = " " * 6  # a section's lines; an option's or positional's name
TEXT = " " * 10  # an option's explanation; an example's command


Path = tuple[str, ...]


def walk(parser: argparse.ArgumentParser, path: Path = ()) -> Iterator[tuple[Path, argparse.ArgumentParser]]:
    """Every parser under ``parser``, with the words that reach it: the whole tree, found, not listed."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from walk(child, (*path, name))


COMMANDS = dict(walk(build_parser()))


def render(path: tuple[str, ...]) -> str:
    """``acmeca <path> --help`` in-process, as a user runs it."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    return out.getvalue()


def sections(text: str) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if re.fullmatch(r"[A-Z][A-Z ]*[A-Z]", line):
            found.append((line, []))
        elif found:
            found[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"text before the first section: {line!r}")
    return found


def _entries(body: list[str]) -> dict[str, str]:
    """``name -> explanation`` for the items of POSITIONAL ARGUMENTS or OPTIONS."""
    entries: dict[str, str] = {}
    current = None
    for line in body:
        if line.startswith(ENTRY) and not line.startswith(ENTRY + " "):
            current = line.strip()
            entries[current] = ""
        elif current is not None and line.startswith(TEXT):
            entries[current] += " " + line.strip()
    return entries


def _examples(body: list[str]) -> list[tuple[str, list[str]]]:
    """(what it does, its command lines) for each example: text ending in ':', then indented '$ ' lines."""
    examples: list[tuple[str, list[str]]] = []
    what: list[str] = []
    for line in body:
        if line.startswith(TEXT):
            if what and what[-1].endswith(":"):
                examples.append((" ".join(what), []))
            what = []
            if examples:
                examples[-1][1].append(line.strip())
        elif line.strip():
            what.append(line.strip())
    return examples


def problems(parser: argparse.ArgumentParser, text: str) -> list[str]:
    """What is missing from ``parser``'s page, step's layout being the rule."""
    found = sections(text)
    titles = [title for title, _ in found]
    body = dict(found)
    issues = [f"missing {title}" for title in REQUIRED if title not in titles]
    issues += [f"unknown section {title}" for title in titles if title not in SECTIONS]
    known = [t for t in titles if t in SECTIONS]
    if known != sorted(known, key=SECTIONS.index) or len(set(titles)) != len(titles):
        issues.append(f"sections out of step's order: {titles}")
    summary = getattr(parser, "summary", "")
    if not summary or f"{parser.prog} -- {summary}" not in " ".join(line.strip() for line in body.get("NAME", [])):
        issues.append("NAME is not '<command> -- <summary>'")
    description = " ".join(line.strip() for line in body.get("DESCRIPTION", []))
    if len(description.split()) < 12 or not re.search(r"\w[.!?]( |$)", description):
        issues.append("DESCRIPTION is not a paragraph (a full sentence, at least 12 words)")

    subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    positionals = [a for a in parser._actions if not a.option_strings and a not in subcommands]
    explained = _entries(body.get("POSITIONAL ARGUMENTS", []))
    for action in positionals:
        name = action.metavar if isinstance(action.metavar, str) else action.dest.replace("_", "-")
        if len(explained.get(name, "").split()) < 3:
            issues.append(f"positional {name} is not explained")
    if explained and not positionals:
        issues.append("POSITIONAL ARGUMENTS without positionals")
    options = _entries(body.get("OPTIONS", []))
    for action in parser._actions:
        if action.option_strings and action.help != argparse.SUPPRESS:
            entry = next((k for k in options if k.split("=")[0].split("[")[0].split(", ")[0]
                          == action.option_strings[0]), None)
            if entry is None or len(options[entry].split()) < 2:
                issues.append(f"option {action.option_strings[0]} is not explained")
    listed = {line.split()[0]: line.split(None, 1)[1:] for line in body.get("COMMANDS", []) if line.strip()}
    for action in subcommands:
        for choice in action._get_subactions():
            if not listed.get(choice.dest) or not choice.help:
                issues.append(f"subcommand {choice.dest} is not listed with its summary under COMMANDS")
    if listed and not subcommands:
        issues.append("COMMANDS without subcommands")

    examples = _examples(body.get("EXAMPLES", []))
    relevant = [e for e in examples if e[1] and any(parser.prog in line for line in e[1])]
    if len(relevant) < 2:
        issues.append(f"{len(relevant)} examples of {parser.prog} (at least 2 needed)")
    return issues


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path) or "acmeca")
def test_every_command_has_a_step_style_page(path: tuple[str, ...]) -> None:
    assert problems(COMMANDS[path], render(path)) == []


def test_the_walk_finds_every_level() -> None:
    assert len(COMMANDS) > 60  # the policy tree alone is that large
    for path in [(), ("revoke",), ("provisioner", "add"), ("acme", "eab", "add"), ("admin", "add"), ("db", "migrate"),
                 ("policy", "acme", "x509", "allow", "dns"), ("policy", "authority", "ssh", "host", "deny", "ip")]:
        assert path in COMMANDS


def test_a_command_added_without_help_fails() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    bare = commands.add_parser("bare", help="a command nobody documented")
    bare.add_argument("thing")
    bare.add_argument("--flag")
    issues = problems(bare, bare.format_help())
    assert "missing DESCRIPTION" in issues
    assert "missing EXAMPLES" in issues
    assert "positional thing is not explained" in issues
    assert "option --flag is not explained" in issues


def test_sections_are_in_steps_order() -> None:
    text = render(("revoke",))
    assert [title for title, _ in sections(text)] == [
        "NAME", "USAGE", "DESCRIPTION", "POSITIONAL ARGUMENTS", "OPTIONS", "EXAMPLES",
    ]
    assert [title for title, _ in sections(render(("provisioner",)))][-1] == "COMMANDS"


@pytest.mark.parametrize(
    ("path", "flags"),
    [
        (("root",), ["--ca-url", "--fingerprint", "-f, --force"]),
        (("rekey",), ["--kty", "--curve, --crv", "--size"]),
        (("revoke",), ["--reasonCode, --reason-code"]),
    ],
)
def test_flags_newcomers_asked_about_are_explained(path: tuple[str, ...], flags: list[str]) -> None:
    options = _entries(dict(sections(render(path)))["OPTIONS"])
    for flag in flags:
        entry = next(k for k in options if k.startswith(flag))
        assert len(options[entry].split()) >= 8, (flag, options[entry])


def test_revoke_help_names_every_serial_form_and_reason() -> None:
    text = " ".join(render(("revoke",)).split())
    for form in ("decimal", "0x-prefixed hex", "7B01", "7b:01", "read as decimal"):
        assert form in text
    for reason in ("Unspecified", "KeyCompromise", "CACompromise", "RemoveFromCRL", "AACompromise"):
        assert reason in text
