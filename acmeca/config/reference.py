"""docs/configuration.md, generated from the registry of ca.json keys (``python -m acmeca.config.reference``).

The registry is the only list of keys the loader accepts, so a reference made from it cannot drift from what
``acmeca serve`` reads; a test compares the committed file with this output.
"""

from __future__ import annotations

import acmeca.config.loader  # noqa: F401  (registers every section)
from acmeca.config.registry import SECTIONS, Reload, Section

PREAMBLE = """# ca.json reference

Generated from the typed configuration (`acmeca/config/`) by `python -m acmeca.config.reference`; a test fails
when this file and the code disagree. Keys use step-ca's names, so a step-ca `ca.json` loads: keys step-ca
defines that acmeca does not use are accepted and listed once at start-up as ignored. Any other unknown key, or a
value of the wrong type, stops `acmeca serve` with one line naming the key's full JSON path, e.g.
`error: /etc/acmeca/config/ca.json: authority.provisioners[1].validation.http01port: unknown key (did you mean
http01Port?)`. The admin API refuses a provisioner the same parser refuses (400).

## Reload

`kill -HUP <pid>` re-reads ca.json. Keys marked SIGHUP take effect on the next request; keys marked restart are
named in a warning and keep their running value until `acmeca serve` restarts. The intermediate certificate and
key (`crt`, `key`) are re-read from disk with the password `serve` was given, so a rotated intermediate needs no
restart. A file that does not load is one error line, and the running configuration stays as it was. The
`configuration reloaded` line lists the keys that changed.
"""


def _anchor(path: str) -> str:
    return path or "top level"


def _section(section: Section) -> str:
    lines = [f"## `{_anchor(section.path)}`", "", section.doc, "", "| key | type | default | applies | meaning |",
             "|---|---|---|---|---|"]
    for key in section.keys:
        applies = "SIGHUP" if key.reload is Reload.SIGHUP else "restart"
        default = f"`{key.default}`" if key.default else ""
        lines.append(f"| `{key.name}` | {key.kind} | {default} | {applies} | {key.doc} |")
    if section.ignored:
        listed = ", ".join(f"`{name}`" for name in sorted(section.ignored))
        lines += ["", f"Accepted and ignored (step-ca keys acmeca does not use): {listed}."]
    return "\n".join(lines)


def render() -> str:
    ordered = sorted(SECTIONS, key=lambda s: (s.path != "", s.path))
    return PREAMBLE + "\n" + "\n\n".join(_section(s) for s in ordered) + "\n"


if __name__ == "__main__":
    print(render(), end="")
