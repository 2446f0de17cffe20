"""`kubefort version` (and `kubefort --version`): kubefort's version, Python's, and which YAML
parsers are in use, the first thing to paste into a bug report."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from importlib import metadata

import click

from kubefort import __version__


@dataclass(frozen=True, slots=True)
class Parser:
    name: str
    version: str | None  # None: not available
    role: str  # what kubefort uses it for
    missing: str  # what happens without it


def yaml_parsers() -> list[Parser]:
    """rapidyaml (the fast path) and libyaml (the exact path), each with its version or None."""
    from kubefort.loaders.yamlparse import exact, fast

    ryml_version = None
    ryml = getattr(fast, "ryml", None)  # None when the C extension failed to import
    if ryml is not None:
        try:
            ryml_version = metadata.version("rapidyaml")
        except metadata.PackageNotFoundError:  # pragma: no cover - a build without its metadata
            ryml_version = str(getattr(ryml, "__version__", "unknown version"))
    libyaml_version = None
    if exact.HAVE_LIBYAML:
        import yaml._yaml

        libyaml_version = str(yaml._yaml.get_version_string())
    return [
        Parser("rapidyaml", ryml_version, "fast YAML path", "every file takes the exact path, more slowly"),
        Parser("libyaml", libyaml_version, "exact YAML path", "PyYAML's pure-Python parser is used, much more slowly"),
    ]


def version_text() -> str:
    """The lines `kubefort version` prints; the first is `kubefort X.Y.Z`."""
    lines = [
        f"kubefort {__version__}",
        f"Python {platform.python_version()} ({platform.python_implementation()}) on {sys.platform}",
    ]
    for p in yaml_parsers():
        if p.version is None:
            lines.append(f"{p.name}: not available ({p.missing})")
        else:
            lines.append(f"{p.name} {p.version}: available ({p.role})")
    return "\n".join(lines)


@click.command("version")
def version() -> None:
    """Show kubefort's version, Python's and the YAML parsers in use."""
    click.echo(version_text())
