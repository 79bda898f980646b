"""Encrypts access-key secrets at rest with a key derived from the server's secret key.

A secret key must be readable again to check HMAC signatures, so it cannot be hashed like
a token. It is sealed with AES-256-GCM under a key derived by HKDF-SHA256 from
``OPSDESK_SECRET_KEY`` (or the generated ``secret_key`` file); the access key id is the
associated data, so a sealed secret copied to another row does not open. Changing the
server's secret key makes every stored secret unreadable: such keys answer 401 and must be
created anew.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"opsdesk access-key secrets v1"
_PREFIX = "v1:"
_NONCE_BYTES = 12


class SecretUnreadable(Exception):
    """The sealed secret does not open with this server's key (it was changed)."""


class SecretBox:
    def __init__(self, server_secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            server_secret.encode()
        )
        self._aead = AESGCM(key)

    def seal(self, secret: str, *, access_key_id: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), access_key_id.encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, sealed: str, *, access_key_id: str) -> str:
        if not sealed.startswith(_PREFIX):
            raise SecretUnreadable("unknown sealing format")
        raw = base64.b64decode(sealed.removeprefix(_PREFIX))
        try:
            plain = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], access_key_id.encode()
            )
        except InvalidTag:
            raise SecretUnreadable("the secret does not open with this key") from None
        return plain.decode()
