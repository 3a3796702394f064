"""Who a person is, for matching: normalised values and the blocking keys computed from them. Pure.

Everything identity matching compares goes through this module, in one direction:

    PersonalData ──identity_of()──▶ Identity (normalised) ──blocking_keys()──▶ {"pdf:…", "nd:…", …}

* :func:`normalise_name` removes accents, case, punctuation and the particles of Spanish names
  ("de", "del", "de la", "y"), so ``"María de los Ángeles  Hernández-López"`` and
  ``"MARIA ANGELES HERNANDEZ LOPEZ"`` are the same tokens.
* :func:`phonetic` is a Spanish phonetic code (see below): spellings that sound alike in Central
  American Spanish (``Vásquez``/``Bázquez``, ``Jiménez``/``Giménez``/``Ximénez``, ``Yesenia``/``Llesenia``,
  ``Jhony``/``Johnny``, ``Martínez``/``Martines``) get the same code.
* :func:`blocking_keys` turns one identity into a handful of strings; two records are *candidates* for
  each other only when they share at least one key. Reception stores the keys in an indexed column and
  looks candidates up by equality (never a scan), so the cost of a lookup does not grow with the
  number of known people (docs/adr/0050-identity-matching.md).

What is stored and looked up is never a key itself but its **blind index** (:class:`BlindIndex`): a
keyed hash (HMAC-SHA-256 under a secret from settings) of the key string, keeping only the key's kind
(``nd:3f9c…``). Equality is all the lookup needs, so the rules here do not change, and the database
holds no name, date of birth or document number in clear — not even normalised (ADR 0070).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from .commands import PersonalData

PARTICLES = frozenset({"DE", "DEL", "LA", "LAS", "LOS", "Y", "E", "VDA", "VIUDA", "SAN"})
"""Words of Spanish names that do not tell people apart (``de la Cruz`` = ``Cruz``)."""

_NOT_LETTER = re.compile(r"[^A-Z ]+")
_SPACES = re.compile(r"\s+")
_DOC = re.compile(r"[^A-Z0-9]+")


def fold(text: str) -> str:
    """Upper case without accents or punctuation (``Ñ`` becomes ``N``, hyphens become spaces)."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    return _SPACES.sub(" ", _NOT_LETTER.sub(" ", plain)).strip()


def normalise_name(text: str) -> tuple[str, ...]:
    """The tokens of a name after :func:`fold`, without particles (all of them if only particles)."""
    tokens = tuple(fold(text).split())
    meaningful = tuple(t for t in tokens if t not in PARTICLES)
    return meaningful or tokens


def normalise_document(number: str | None) -> str | None:
    """A document number in upper case, letters and digits only (``0501-1994-77777`` → ``0501199477777``)."""
    if not number:
        return None
    folded = _DOC.sub("", unicodedata.normalize("NFKD", number).upper())
    return folded or None


_PHONETIC_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"PH", "F"),
        (r"TH", "T"),
        (r"SH", "X"),  # Shirley / Chirley
        (r"CH", "X"),
        (r"LL", "Y"),
        (r"Y(?=[AEIOU])", "y"),  # a consonant (lower case: kept apart from the vowel below)
        (r"Y", "I"),  # Rey, Yris: a vowel
        (r"QU(?=[EI])", "K"),
        (r"GU(?=[EI])", "g"),  # a hard G (Guillermo), not turned into J below
        (r"G(?=[EI])", "J"),
        (r"C(?=[EI])", "S"),
        (r"C", "K"),
        (r"Q", "K"),
        (r"Z", "S"),
        (r"^X(?=[IE])", "J"),  # Ximena, Ximénez
        (r"X", "S"),  # Xiomara, Xochitl
        (r"W", "U"),  # Wilmer / Uilmer / Guilmer are told apart by the G
        (r"V", "B"),
        (r"H", ""),  # silent (after CH, SH, PH, TH were handled)
        (r"N(?=[BP])", "M"),
    )
)


@lru_cache(maxsize=8192)
def phonetic(token: str) -> str:
    """A Spanish phonetic code of one folded name token: its first sound and its consonants.

    English codes (Soundex, Metaphone) keep ``V``/``B``, ``Z``/``S``, ``LL``/``Y`` and ``G``/``J`` apart
    and read ``H`` and ``J`` as in English; Central American names are spelt by ear, so this code merges
    what sounds alike in Spanish, drops vowels after the first letter (``Yesenia``/``Yessenia``,
    ``Mairena``/``Mayrena``) and doubled letters.
    """
    word = token
    for pattern, replacement in _PHONETIC_RULES:
        word = pattern.sub(replacement, word)
    word = word.upper()
    if not word:
        return token[:1]
    head, tail = word[0], word[1:]
    consonants = "".join(c for c in tail if c not in "AEIOU")
    collapsed: list[str] = []
    for c in head + consonants:
        if not collapsed or collapsed[-1] != c:
            collapsed.append(c)
    return "".join(collapsed)


@dataclass(frozen=True)
class Identity:
    """The normalised values identity matching compares (never published; never logged)."""

    given: tuple[str, ...]
    family: tuple[str, ...]
    date_of_birth: date
    sex: str
    country: str
    document: str | None = None

    @property
    def given_text(self) -> str:
        return " ".join(self.given)

    @property
    def family_text(self) -> str:
        return " ".join(self.family)


def identity_of(person: PersonalData, *, sex: str, country: str) -> Identity:
    """The normalised identity of a person returned to ``country`` (documents are national)."""
    return Identity(
        given=normalise_name(person.given_names),
        family=normalise_name(person.family_names),
        date_of_birth=person.date_of_birth,
        sex=sex,
        country=country,
        document=normalise_document(person.document_number),
    )


KEY_KINDS = {
    "doc": "country + document number (deterministic rule 1)",
    "nd": "all name tokens, family names in any order + date of birth (deterministic rule 2)",
    "pdf": "phonetic first given name + phonetic of one family name + date of birth (one key per family "
    "name: swapped or missing family names still meet)",
    "fd": "phonetic family names in any order + date of birth (a different or missing given name)",
    "fy": "phonetic first given name + phonetic family names in any order + birth year (a typo in the "
    "day or month of birth)",
}
"""The kinds of blocking key and what each tolerates (documented in the reception README)."""


def blocking_keys(identity: Identity) -> frozenset[str]:
    """The blocking keys of an identity: two records are compared only if they share one.

    Each key is selective on its own (it includes a full date of birth, or a birth year with three
    name codes), so a key is shared by a handful of people even among millions.
    """
    dob = identity.date_of_birth.isoformat()
    keys: set[str] = set()
    if identity.document:
        keys.add(f"doc:{identity.country}:{identity.document}")
    family_sorted = sorted(identity.family)
    keys.add(f"nd:{identity.given_text}|{' '.join(family_sorted)}|{dob}")
    family_codes = sorted({phonetic(t) for t in identity.family})
    if identity.given:
        first = phonetic(identity.given[0])
        for code in family_codes:
            keys.add(f"pdf:{first}|{code}|{dob}")
        keys.add(f"fy:{first}|{' '.join(family_codes)}|{identity.date_of_birth.year}")
    if len(family_codes) >= 2:
        keys.add(f"fd:{' '.join(family_codes)}|{dob}")
    return frozenset(keys)


def sure_keys(identity: Identity) -> frozenset[str]:
    """The keys of the deterministic rules only (document; names + date of birth): what an
    announcement keeps of an announced person, to recognise them on arrival without fuzzy scoring."""
    return frozenset(k for k in blocking_keys(identity) if k.startswith(("doc:", "nd:")))


@dataclass(frozen=True)
class BlindIndex:
    """Keyed hashes of blocking keys: what reception stores in ``identity_keys`` and
    ``announced_person_keys`` and looks up by equality.

    ``kind:value`` becomes ``kind:<32 hex digits of HMAC-SHA-256(secret, "kind:value")>``. Without the
    secret the stored values cannot be recomputed from a guessed name and date of birth (a plain hash
    could, by trying every name of a country); with it, equal keys still meet. Changing the secret means
    recomputing every person's keys from their decrypted data (announcements keep only these hashes,
    so their identity matching would start over; their references still match).
    """

    secret: bytes = field(repr=False)

    def key(self, plain: str) -> str:
        kind = plain.partition(":")[0]
        digest = hmac.new(self.secret, plain.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{kind}:{digest}"

    def __call__(self, keys: Iterable[str]) -> frozenset[str]:
        return frozenset(self.key(k) for k in keys)

    def blocking_keys(self, identity: Identity) -> frozenset[str]:
        return self(blocking_keys(identity))

    def sure_keys(self, identity: Identity) -> frozenset[str]:
        return self(sure_keys(identity))
