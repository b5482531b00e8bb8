"""The ``mssante`` command: ``init``, ``serve``, ``mailbox`` and the command groups of each package."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mssante-gateway")
def main() -> None:
    """Operate an MSSanté-style health secure-messaging gateway."""


# command groups: one import and one add_command per package CLI (keep this block)
