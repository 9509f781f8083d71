"""Document text from .txt, .md, .pdf (pypdf), .docx (python-docx) and .html (stdlib parser)."""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from pathlib import Path

from ..errors import SlmbenchError

SUFFIXES = (".txt", ".md", ".pdf", ".docx", ".html", ".htm")


def load_text(path: Path) -> str:
    """The document's text, paragraphs separated by blank lines; one-line errors for bad input."""
    path = Path(path)
    if not path.exists():
        raise SlmbenchError(f"file {path} not found; pass an existing document")
    if not path.is_file():
        raise SlmbenchError(f"{path} is not a file; pass a document ({', '.join(SUFFIXES)})")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise SlmbenchError(f"unsupported file type {suffix or '(none)'} for {path}; supported: {', '.join(SUFFIXES)}")
    try:
        if suffix == ".pdf":
            text = _pdf(path)
        elif suffix == ".docx":
            text = _docx(path)
        elif suffix in (".html", ".htm"):
            text = html_to_text(path.read_text(encoding="utf-8", errors="replace"))
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
    except SlmbenchError:
        raise
    except Exception as exc:  # a parser's own error on a broken file: one line, not a traceback
        raise SlmbenchError(
            f"cannot read {path} as {suffix} ({type(exc).__name__}: {exc}); is the file complete?"
        ) from None
    text = re.sub(r"[ \t]+\n", "\n", text).strip()
    if not text:
        raise SlmbenchError(f"{path} has no extractable text (a scanned PDF needs OCR first)")
    return text


def _pdf(path: Path) -> str:
    from pypdf import PdfReader

    # pypdf logs recoverable oddities ("EOF marker not found") to stderr; an unreadable file raises.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(path)
    if reader.is_encrypted and not reader.decrypt(""):
        raise SlmbenchError(f"{path} is an encrypted PDF; decrypt it first")
    return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)


def _docx(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        parts += [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
    return "\n\n".join(parts)


_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "section",
           "article", "blockquote", "pre", "header", "footer", "title"}  # fmt: skip
_SKIP = {"script", "style", "noscript", "template", "svg"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[ \t\r\f\v]*\n[ \t\r\f\v]*", "\n", "".join(parser.parts))
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
