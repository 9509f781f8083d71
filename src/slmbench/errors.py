"""The one exception type the CLI turns into a one-line message."""

from __future__ import annotations


class SlmbenchError(Exception):
    """A problem the user can fix. The message names the problem and the fix."""


class ServerStartError(SlmbenchError):
    """A model server did not become ready."""


class PortInUse(ServerStartError):
    """The requested port is taken."""
