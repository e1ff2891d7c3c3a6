"""Words as the index sees them: Vietnamese diacritics folded ("sốt" -> "sot", "đau" -> "dau"),
case folded, split on anything that is not a letter or a digit."""

from __future__ import annotations

import re
import unicodedata

MIN_LENGTH = 2
MAX_LENGTH = 40
MAX_WORDS = 200  # distinct words indexed per message (the longest messages are 5,000 chars)
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower case without diacritics; đ/Đ (a letter of its own, not a mark) becomes d."""
    decomposed = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The distinct indexable words of `text`, in order of first appearance."""
    found: dict[str, None] = {}
    for word in _WORD.findall(fold(text)):
        if MIN_LENGTH <= len(word) <= MAX_LENGTH and "_" not in word:
            found[word] = None
            if len(found) >= MAX_WORDS:
                break
    return list(found)
