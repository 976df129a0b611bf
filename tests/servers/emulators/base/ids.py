"""Random identifiers and secret fingerprints the emulators share."""

from __future__ import annotations

import hashlib
import secrets
import string

BASE62 = string.ascii_letters + string.digits


def random_string(n: int, alphabet: str = BASE62) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def sha_prefix(secret: str) -> str:
    """A short fingerprint that names a secret in state dumps without revealing it."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:12]
