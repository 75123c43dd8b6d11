"""Replace personal values in recorded profiles with Faker values, consistently.

The same real value always becomes the same fake value within a file, and with the same
seed across runs (each fake value is drawn from a generator seeded by the seed, the kind
and the real value). Replacements keep their shape: an email stays a valid lowercase
email (at a reserved example domain), a phone number stays E.164, an IPv6 address stays
IPv6. What is personal is told by the key (``email``, ``phone``, ``first_name``,
``address``, ``ip`` …) and, whatever the key, by the value (anything shaped like an email
address or an E.164 phone number); a value the key names that cannot be of its kind (an
`email_opt_in` of "yes") is kept, and an email address inside a longer text (a URL's
query) is replaced there, the rest kept.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from profilemock import extras
from profilemock.api import is_ip_address

if TYPE_CHECKING:
    from faker import Faker


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL_IN_TEXT = re.compile(
    r"(?<![\w.%+'-])[\w.%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
)
"""An email address inside a longer text: a URL's query, ``Jane <jane@example.com>``."""
_PHONE_LIKE = re.compile(r"^\+?[0-9 ().-]+$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

# Key words (lowercase, separators dropped) and the kind of value they hold.
_KEY_KINDS: tuple[tuple[str, str], ...] = (
    ("email", "email"),
    ("phone", "phone"),
    ("mobile", "phone"),
    ("firstname", "first_name"),
    ("givenname", "first_name"),
    ("lastname", "last_name"),
    ("surname", "last_name"),
    ("familyname", "last_name"),
    ("fullname", "name"),
    ("username", "name"),
    ("street", "street"),
    ("address", "street"),
    ("city", "city"),
    ("postalcode", "postcode"),
    ("postcode", "postcode"),
    ("zip", "postcode"),
    ("line1", "street"),
    ("line2", "street"),
)
_EXACT_KINDS = {"name": "name", "ip": "ip", "ipaddress": "ip"}


def kind_of_key(key: str) -> str | None:
    """The kind of personal value a trait or property named ``key`` holds, if any."""
    word = re.sub(r"[^a-z0-9]", "", key.lower())
    if word in _EXACT_KINDS:
        return _EXACT_KINDS[word]
    for part, kind in _KEY_KINDS:
        if part in word:
            return kind
    return None


def kind_of_value(value: str) -> str | None:
    if EMAIL.match(value) and not any(c in value for c in ":/"):  # no URL holding one
        return "email"
    if E164.match(value):
        return "phone"
    return None


def may_be(kind: str, value: str) -> bool:
    """Whether ``value`` (under a key saying ``kind``) can be a value of that kind: an
    `email_opt_in` of "yes", a `phone_verified` of "true", a `mobile_app_version` of
    "3.2.1" are no email address or phone number (they became one, and no longer read as
    what they were)."""
    if kind == "email":
        return "@" in value
    if kind == "phone":  # a date (`phone_verified_at: 2024-01-01`) is none
        digits = sum(c.isdigit() for c in value)
        return bool(_PHONE_LIKE.match(value)) and digits >= 7 and not _DATE.match(value)
    if kind == "ip":
        return is_ip_address(value)
    return True


class Redactor:
    """Consistent replacements of personal values (see the module's docstring)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        # ~0.25 s to import: only when recording with --redact
        self._faker = extras.faker("profilemock record --redact")()
        self._made: dict[tuple[str, str], str] = {}
        self._used: set[tuple[str, str]] = set()

    def replace(self, kind: str, real: str) -> str:
        """The fake value standing for ``real`` (of ``kind``)."""
        key = (kind, real)
        made = self._made.get(key)
        if made is not None:
            return made
        digest = hashlib.sha256(f"{self.seed}\0{kind}\0{real}".encode()).digest()
        self._faker.seed_instance(int.from_bytes(digest[:8], "big"))
        fake = _MAKERS[kind](self._faker, real)
        n = 1
        while (kind, fake) in self._used:  # two real values never share a fake one
            n += 1
            fake = _MAKERS[kind](self._faker, real)
            if kind == "email" and n > 3:
                local, _, domain = fake.partition("@")
                fake = f"{local}{n}@{domain}"
        self._used.add((kind, fake))
        self._made[key] = fake
        return fake

    def identifier(self, id_type: str, value: str) -> str:
        """An external id's value: emails and phone numbers by type or by shape."""
        kind = {"email": "email", "phone": "phone", "phone_number": "phone"}.get(id_type)
        kind = kind or kind_of_value(value)
        return value if kind is None else self.replace(kind, value)

    def value(self, value: Any, key: str | None = None) -> Any:
        """A trait or property value with its personal parts replaced (recursively)."""
        if isinstance(value, str):
            kind = kind_of_key(key) if key else None
            if kind is not None and not may_be(kind, value):
                kind = None
            kind = kind or kind_of_value(value)
            if kind is None and "@" in value:
                # An email inside a text (a page's URL with `?email=`, "Jane <jane@…>")
                # was kept, or the whole URL became an email address.
                return _EMAIL_IN_TEXT.sub(lambda found: self.replace("email", found[0]), value)
            return value if kind is None else self.replace(kind, value)
        if isinstance(value, dict):
            return {k: self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(item, key) for item in value]
        return value


def _email(faker: Faker, real: str) -> str:
    domain = faker.random_element(("example.com", "example.org", "example.net"))
    return f"{faker.user_name()}{faker.random_int(10, 9999)}@{domain}".lower()


def _phone(faker: Faker, real: str) -> str:
    # Keep the number of digits of the real number (E.164 holds 15 at most: its spaces and
    # brackets counted, a written one made more); 555 numbers are reserved for fiction.
    digits = min(max(sum(c.isdigit() for c in real), 8), 15)
    rest = "".join(str(faker.random_digit()) for _ in range(digits - 4))
    return f"+1555{rest}"


def _ip(faker: Faker, real: str) -> str:
    return str(faker.ipv6() if ":" in real else faker.ipv4_public())


_MAKERS: dict[str, Callable[[Faker, str], str]] = {
    "email": _email,
    "phone": _phone,
    "first_name": lambda f, _: str(f.first_name()),
    "last_name": lambda f, _: str(f.last_name()),
    "name": lambda f, _: str(f.name()),
    "street": lambda f, _: str(f.street_address()),
    "city": lambda f, _: str(f.city()),
    "postcode": lambda f, _: str(f.postcode()),
    "ip": _ip,
}
