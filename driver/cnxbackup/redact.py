"""The one mask for secrets: everything logged or written passes through ``REDACT``.

It sits in the bottom layer so that ``log`` (which masks every record) and ``secrets``
(which registers each password it reads) share it without importing each other.
"""
from __future__ import annotations

from typing import List, Optional

MASK = "*****"


class Redactor:
    """Replaces every known secret in text that is about to be logged or written."""

    def __init__(self) -> None:
        self._secrets: List[str] = []

    def add(self, secret: Optional[str]) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


REDACT = Redactor()
