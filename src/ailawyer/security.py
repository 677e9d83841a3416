"""Password hashing (argon2 through pwdlib)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash

MIN_PASSWORD_LENGTH = 8


@lru_cache(maxsize=1)
def password_hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return password_hasher().verify(password, password_hash)


# Verified against when the e-mail is unknown, so both answers take equally long.
@lru_cache(maxsize=1)
def dummy_hash() -> str:
    return hash_password("not-a-real-password-0000")
