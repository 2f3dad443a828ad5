"""Search queries, built from a visitor's or a CSR's words (pure: the SQL runs in
app/services/knowledge.py).

- `all` mode (the search boxes): every word must match, the last one as a prefix (what is being
  typed); when nothing matches, `any` mode ranks articles by how many of the words they hold.
- `any` mode (suggestions for a chat message): any word; single Chinese characters (的, 是 …) are
  left out when the message has longer words.
- Typo tolerance: a short query (at most `FUZZY_MAX_WORDS` words) that finds nothing has each word
  replaced by the closest word of the articles' titles and tags (rapidfuzz, at least
  `FUZZY_CUTOFF` similar) and is asked again.

Words come from app/knowledge/text.py, so they hold only letters and digits: nothing in them can
change the meaning of a tsquery or an FTS5 expression.
"""

from __future__ import annotations

from rapidfuzz import fuzz, process

from app.knowledge import text

# Words a question is made of rather than about (PostgreSQL's English configuration drops the same
# ones; SQLite's tokenizer keeps them, so they are left out of the query here for both).
STOP_WORDS = frozenset("""a about an and are as at be been but by can could did do does for from get got
had has have how i i'm if in into is it its me my no not of on or our please so that the their them
then there these they this to too us was we were what when where which who why will with would you
your hi hello hey thanks thank""".split())

MAX_QUERY = 200
MAX_WORDS = 16
FUZZY_MAX_WORDS = 3
FUZZY_CUTOFF = 75.0


def terms(query: str, *, mode: str = "all") -> list[str]:
    """The words a query searches for (at most `MAX_WORDS`, no repeats, in order)."""
    seen: list[str] = []
    for word in text.words(query[:MAX_QUERY]):
        if word not in seen:
            seen.append(word)
    if any(w not in STOP_WORDS for w in seen):
        seen = [w for w in seen if w not in STOP_WORDS]
    if mode == "any" and any(len(w) > 1 or not text.has_chinese(w) for w in seen):
        seen = [w for w in seen if len(w) > 1 or not text.has_chinese(w)]
    return seen[:MAX_WORDS]


def tsquery(words: list[str], *, mode: str = "all") -> str:
    """A PostgreSQL tsquery (for `to_tsquery('english', …)`)."""
    if not words:
        return ""
    quoted = [f"'{w}'" for w in words]
    if mode == "all":
        quoted[-1] += ":*"
        return " & ".join(quoted)
    return " | ".join(quoted)


def fts5(words: list[str], *, mode: str = "all") -> str:
    """An SQLite FTS5 MATCH expression."""
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    if mode == "all":
        quoted[-1] += "*"
        return " AND ".join(quoted)
    return " OR ".join(quoted)


def corrected(words: list[str], vocabulary: list[str]) -> list[str] | None:
    """The query's words moved to the closest vocabulary words, or None when that changes nothing
    (or the query is too long to guess at)."""
    if not words or len(words) > FUZZY_MAX_WORDS or not vocabulary:
        return None
    out = []
    for word in words:
        if len(word) < 3 and not text.has_chinese(word):
            out.append(word)
            continue
        best = process.extractOne(word, vocabulary, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        out.append(best[0] if best else word)
    return out if out != words else None
