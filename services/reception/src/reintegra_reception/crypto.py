"""Personal data encrypted at rest, field by field, and erasable by destroying one key (ADR 0070).

Envelope encryption, with AES-GCM (``cryptography``) at both levels:

    key-encryption key (KEK, from settings) ──wraps──▶ data key (random, one per person) ──▶ each field

* Each person (returnee record) has a **data key** of 32 random bytes, stored only *wrapped*: encrypted
  under the KEK in ``person_keys``, with the KEK's id, bound to the person's id (AES-GCM associated data)
  so a wrapped key cannot be moved to another person.
* Each personal field is encrypted under the person's data key with a fresh nonce and the person's id
  and the field's name as associated data, so a ciphertext cannot be moved to another field or person
  without failing to decrypt. Format: ``0x01 || nonce (12) || ciphertext+tag``.
* **Erasure** destroys the wrapped data key: every copy of the person's fields — this database, its
  replicas, dumps and backups taken later — becomes unreadable at once (crypto-shredding). Backups taken
  *before* still hold the wrapped key; they become unreadable when the KEK they were wrapped with is
  retired after a rotation (see ``docs/data-protection.md``).
* **Rotation** re-wraps every data key under a new KEK (``python -m reintegra_reception keys rotate``);
  during it the previous KEKs are still accepted for unwrapping. Field ciphertexts never change.

The KEK never touches the database. Key ids are a hash of the key, so they name a key without
revealing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, field
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .domain.identity import BlindIndex

KEY_BYTES = 32
NONCE_BYTES = 12
FIELD_FORMAT = b"\x01"
"""Version byte of a field ciphertext (a later format keeps reading this one)."""


class CryptoError(Exception):
    """Personal data cannot be encrypted or decrypted (the message says why; it holds no data)."""


class UnknownKeyEncryptionKeyError(CryptoError):
    """A data key was wrapped by a key-encryption key this process was not given."""


class DataKeyDestroyedError(CryptoError):
    """The person's data key was destroyed: their data was erased and cannot be read any more."""


class TamperedCiphertextError(CryptoError):
    """A ciphertext does not decrypt: it was changed, or moved to another field or person."""


def parse_key(value: str, what: str = "key") -> bytes:
    """A 32-byte key from its base64 text (standard or URL-safe alphabet); ``ValueError`` names what
    is wrong without showing the value."""
    text = value.strip()
    if not text:
        raise ValueError(f"{what} is empty")
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64 text") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(
            f"{what} must be {KEY_BYTES} bytes (base64 of {KEY_BYTES} random bytes), not {len(raw)}"
        )
    return raw


def new_key_text() -> str:
    """A new random key as base64 text (what ``REINTEGRA_KEY_ENCRYPTION_KEY`` holds)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def key_id(key: bytes) -> str:
    """A key's name: 16 hex digits of a hash of the key (it reveals nothing of the key)."""
    return hashlib.sha256(b"reintegra/key-id\x00" + key).hexdigest()[:16]


def _wrap_aad(owner: UUID) -> bytes:
    return b"reintegra/data-key\x00" + owner.bytes


def _field_aad(owner: UUID, name: str) -> bytes:
    return b"reintegra/field\x00" + owner.bytes + name.encode()


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted under a key-encryption key (``nonce || ciphertext+tag``)."""

    kek_id: str
    blob: bytes


@dataclass(frozen=True)
class KeyRing:
    """The key-encryption keys of this process: the current one wraps, the previous ones (during a
    rotation) only unwrap."""

    current: bytes
    previous: tuple[bytes, ...] = ()
    _by_id: dict[str, bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        keys = {key_id(k): k for k in (*self.previous, self.current)}
        object.__setattr__(self, "_by_id", keys)

    def __repr__(self) -> str:  # never print a key
        return f"KeyRing(current={self.current_id}, previous={list(self.ids - {self.current_id})})"

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @property
    def ids(self) -> set[str]:
        return set(self._by_id)

    @staticmethod
    def new_data_key() -> bytes:
        return os.urandom(KEY_BYTES)

    def wrap(self, data_key: bytes, owner: UUID) -> WrappedKey:
        """``data_key`` encrypted under the current KEK, bound to ``owner``."""
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + AESGCM(self.current).encrypt(nonce, data_key, _wrap_aad(owner))
        return WrappedKey(self.current_id, blob)

    def unwrap(self, wrapped: WrappedKey, owner: UUID) -> bytes:
        """The data key of ``owner``; fails when its KEK is not in this ring or the blob was changed."""
        kek = self._by_id.get(wrapped.kek_id)
        if kek is None:
            raise UnknownKeyEncryptionKeyError(
                f"the data key of {owner} is wrapped by key-encryption key {wrapped.kek_id}, which this "
                f"process does not have (it has {', '.join(sorted(self.ids))}); during a rotation, give "
                "the old key in REINTEGRA_PREVIOUS_KEY_ENCRYPTION_KEYS"
            )
        try:
            return AESGCM(kek).decrypt(
                wrapped.blob[:NONCE_BYTES], wrapped.blob[NONCE_BYTES:], _wrap_aad(owner)
            )
        except InvalidTag:
            raise TamperedCiphertextError(f"the wrapped data key of {owner} does not decrypt") from None

    def rewrap(self, wrapped: WrappedKey, owner: UUID) -> WrappedKey:
        """The same data key wrapped under the current KEK (a rotation step)."""
        return self.wrap(self.unwrap(wrapped, owner), owner)


class FieldCipher:
    """Encrypts and decrypts one person's fields under their data key."""

    def __init__(self, data_key: bytes, owner: UUID) -> None:
        self._aead = AESGCM(data_key)
        self.owner = owner

    def encrypt(self, name: str, value: str | None) -> bytes | None:
        if value is None:
            return None
        nonce = os.urandom(NONCE_BYTES)
        return FIELD_FORMAT + nonce + self._aead.encrypt(nonce, value.encode(), _field_aad(self.owner, name))

    def decrypt(self, name: str, blob: bytes | None) -> str | None:
        if blob is None:
            return None
        data = bytes(blob)
        if data[:1] != FIELD_FORMAT:
            raise TamperedCiphertextError(f"field {name} of {self.owner} has an unknown format")
        nonce, sealed = data[1 : 1 + NONCE_BYTES], data[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, _field_aad(self.owner, name)).decode()
        except InvalidTag:
            raise TamperedCiphertextError(f"field {name} of {self.owner} does not decrypt") from None


@dataclass(frozen=True)
class ReceptionKeys:
    """Every secret reception computes with: the KEKs and the blind-index secret."""

    ring: KeyRing
    blind_index: BlindIndex

    @classmethod
    def from_text(cls, kek: str, blind_index_secret: str, previous: str = "") -> ReceptionKeys:
        """From the settings' base64 texts (``previous``: comma-separated)."""
        old = tuple(parse_key(p, "a previous key-encryption key") for p in previous.split(",") if p.strip())
        return cls(
            KeyRing(parse_key(kek, "the key-encryption key"), old),
            BlindIndex(parse_key(blind_index_secret, "the blind-index secret")),
        )

    @classmethod
    def generate(cls) -> ReceptionKeys:
        """Fresh random keys (tests, benchmarks)."""
        return cls(KeyRing(os.urandom(KEY_BYTES)), BlindIndex(os.urandom(KEY_BYTES)))
