"""Attachments: what a file is, read from its first bytes (never from its name or the type a
browser claims), and whether it may be kept. Only images and PDFs are taken; HTML, SVG and
everything else are refused, so nothing a customer uploads can run in a staff member's browser.
"""

from __future__ import annotations

import re

MAX_BYTES = 10 * 1024 * 1024

# (content type, leading bytes)
_SIGNATURES = (
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/gif", b"GIF87a"),
    ("image/gif", b"GIF89a"),
    ("application/pdf", b"%PDF-"),
)


def sniff(data: bytes) -> str | None:
    """The content type of an allowed file (PNG, JPEG, GIF, WebP, PDF), else None."""
    for kind, head in _SIGNATURES:
        if data.startswith(head):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def safe_name(name: str) -> str:
    """A file name fit for a Content-Disposition header: no path, no control or quote characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r'[\x00-\x1f\x7f"<>;]', "", base).strip(" .")
    return base[:200] or "attachment"
