"""Server-sent events, parsed by hand from the raw byte stream.

A few lines rather than a library: the hot path only needs the `data:` payloads, and every
event must be timestamped when its bytes arrive, which wrappers that buffer cannot promise.
"""

from __future__ import annotations


class SSEParser:
    """Feed bytes as they arrive; get back the complete events' `data` payloads."""

    __slots__ = ("_buf", "_data")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buf += chunk
        events: list[bytes] = []
        while True:
            end = self._buf.find(b"\n")
            if end < 0:
                return events
            line = self._buf[:end].rstrip(b"\r")
            self._buf = self._buf[end + 1 :]
            if not line:  # a blank line ends an event
                if self._data:
                    events.append(b"\n".join(self._data))
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
            # comments (":...") and other fields (event:, id:, retry:) carry nothing we use

    def close(self) -> list[bytes]:
        """Events left when the stream ends without a final blank line."""
        events = self.feed(b"\n\n") if self._buf or self._data else []
        return events
