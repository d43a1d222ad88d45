"""Key hierarchy: master key -> tenant key -> subject keys -> vault values.

- The **master key** wraps tenant keys. It comes from ``SUPPORTOPS_MASTER_KEY`` (base64 of
  32 bytes) or the workspace key file ``keys/master.key`` (created with mode 0600).
  An external KMS plugs in as another :class:`KeyProvider` (``wrap``/``unwrap`` only).
- The **tenant key** (random, stored wrapped) derives, through HKDF, the HMAC key of the
  pseudonyms and references, and the key that wraps subject keys. Rotating it
  (``privacy/tenant_rotation.py``) adds a second, fresh half from which the wrapping key is
  derived from then on: the stored value becomes 64 bytes (pseudonym half, wrapping half).
  The pseudonym half stays for the tenant's life, since tokens are inside the content.
- A **subject key** (random, stored wrapped) encrypts that subject's vault values. Deleting
  its row is crypto-shredding: every copy of those ciphertexts becomes unreadable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Table, delete, select

import supportops.settings as settings
from supportops.errors import ConfigError
from supportops.governance import audit
from supportops.governance.context import Context
from supportops.privacy.tables import subject_keys, tenant_keys

KEY_FILE = Path("keys") / "master.key"
#: The secret the audit chain and anchors are keyed with: a file of its own, so that rotating
#: the master key leaves every chain and every anchor kept elsewhere verifiable.
INTEGRITY_FILE = Path("keys") / "integrity.key"
TOKEN_HEX = 16  # 64 bits: collisions stay negligible far beyond a billion values per type
_NONCE = 12


class KeyProvider(Protocol):
    """Wraps and unwraps tenant keys: the one seam an external KMS implements."""

    name: str

    def wrap(self, tenant_id: str, key: bytes) -> bytes: ...

    def unwrap(self, tenant_id: str, wrapped: bytes) -> bytes: ...


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM: a fresh random nonce, prepended to the ciphertext."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)


class LocalKeyProvider:
    """Tenant keys wrapped by a local master key (environment or workspace key file)."""

    name = "local"

    def __init__(self, master_key: bytes,
                 integrity: Callable[[], bytes] | None = None) -> None:
        if len(master_key) != 32:
            raise ConfigError(f"The master key must be 32 bytes. Got {len(master_key)} bytes.")
        self._master = master_key
        self._integrity = integrity

    def wrap(self, tenant_id: str, key: bytes) -> bytes:
        return seal(self._master, key, f"tenant-key\x1f{tenant_id}".encode())

    def derive(self, purpose: str) -> bytes:
        """A key for one purpose (e.g. the audit chain's), derived by HKDF from the integrity
        secret (the master key when none is given): never stored in the database, so the
        database alone cannot recompute it."""
        secret = self._integrity() if self._integrity is not None else self._master
        return _derive(secret, purpose.encode())

    def unwrap(self, tenant_id: str, wrapped: bytes) -> bytes:
        try:
            return open_sealed(self._master, wrapped, f"tenant-key\x1f{tenant_id}".encode())
        except InvalidTag:
            raise ConfigError(
                f"The key of tenant {tenant_id!r} cannot be unwrapped with the configured "
                "master key. Set 'SUPPORTOPS_MASTER_KEY' (or restore keys/master.key) to the "
                "key this workspace was created with."
            ) from None


def master_key(workspace: Path) -> bytes:
    """``SUPPORTOPS_MASTER_KEY`` if set, else the workspace key file (created on first use)."""
    configured = settings.get("master_key")
    if configured:
        return _decode_master(configured)
    return _key_file(workspace / KEY_FILE)


def integrity_secret(workspace: Path) -> bytes:
    """The workspace's integrity secret (``keys/integrity.key``, created on first use)."""
    return _key_file(workspace / INTEGRITY_FILE)


def _key_file(path: Path) -> bytes:
    """A 32-byte key kept base64 in a 0600 file, created with a fresh key when missing."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, exist_ok=True)
        draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(32)).decode())
        try:  # whole or not at all: a concurrent first use keeps the key that won
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    if path.stat().st_mode & 0o077:
        raise ConfigError(
            f"Key file {str(path)!r} is readable by others (mode {path.stat().st_mode & 0o777:o}"
            "). Run 'chmod 600' on it."
        )
    return _decode_master(path.read_text().strip())


def _decode_master(value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(
            "Setting 'SUPPORTOPS_MASTER_KEY' must be base64 of 32 random bytes "
            "(e.g. `python -c \"import os,base64;print(base64.b64encode(os.urandom(32)).decode())\"`)."
            f" Got a value of {len(value)} characters."
        )
    return raw


def _db_value(value: object, sqlite: bool) -> object:
    """What ``UTCDateTime`` would store for a datetime; anything else as it is."""
    if not isinstance(value, datetime):
        return value
    naive = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return naive.isoformat(sep=" ", timespec="microseconds") if sqlite else naive


def insert_ignore(conn: Connection, table: Table, rows: list[dict[str, object]]) -> None:
    """Insert rows (identical keys), skipping those whose key exists: one driver
    ``executemany`` with ``ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL alike)."""
    if not rows:
        return
    columns = list(rows[0])
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
           f"({', '.join([mark] * len(columns))}) ON CONFLICT DO NOTHING")
    conn.exec_driver_sql(sql, [tuple(_db_value(row[c], sqlite) for c in columns)
                               for row in rows])


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


def subject_kek(tenant_key: bytes) -> bytes:
    """The key that wraps subject keys: from the wrapping half of a rotated tenant key (the
    last 32 of 64 bytes), from the whole key before any rotation."""
    return _derive(tenant_key[32:] or tenant_key[:32], b"supportops subject-kek v1")


def subject_key_aad(tenant_id: str, subject: str) -> bytes:
    """What a wrapped subject key is bound to (its tenant and reference)."""
    return f"subject-key\x1f{tenant_id}\x1f{subject}".encode()


class Keyring:
    """One tenant's keys, used inside a caller's transaction; unwrapped keys are cached."""

    def __init__(self, provider: KeyProvider, ctx: Context) -> None:
        self.provider = provider
        self.ctx = ctx
        self._token_key: bytes | None = None
        self._kek: bytes | None = None
        self._ref_key: bytes | None = None
        self._blind_key: bytes | None = None
        self._subjects: dict[str, bytes] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._wrapped: bytes | None = None

    # -- tenant key ---------------------------------------------------------------------------

    def load(self, conn: Connection) -> None:
        """Unwrap (or create and audit) the tenant key."""
        if self._token_key is not None:
            return
        row = conn.execute(select(tenant_keys.c.wrapped_key).where(
            tenant_keys.c.tenant_id == self.ctx.tenant_id)).scalar()
        if row is None:
            row = self._create_tenant_key(conn)
        self._use(row)

    def _use(self, wrapped: bytes) -> None:
        key = self.provider.unwrap(self.ctx.tenant_id, wrapped)
        identity = key[:32]
        self._token_key = _derive(identity, b"supportops token v1")
        self._kek = subject_kek(key)
        self._ref_key = _derive(identity, b"supportops subject-ref v1")
        self._blind_key = _derive(identity, b"supportops blind-index v1")
        self._wrapped = wrapped
        self._subjects.clear()

    def _fresh_kek(self, conn: Connection, lock: bool = False) -> bool:
        """The tenant key as this transaction sees it (a rotation may have committed since it
        was loaded); whether it changed. Before wrapping new subject keys (``lock``), the row
        is read ``FOR SHARE`` on PostgreSQL, so a rotation waits until they are committed and
        re-wraps them too."""
        if self._token_key is None:
            self.load(conn)
            return False
        query = select(tenant_keys.c.wrapped_key).where(
            tenant_keys.c.tenant_id == self.ctx.tenant_id)
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update(read=True)
        current = conn.execute(query).scalar()
        if current is None or current == self._wrapped:
            return False
        self._use(current)
        return True

    def _create_tenant_key(self, conn: Connection) -> bytes:
        wrapped = self.provider.wrap(self.ctx.tenant_id, secrets.token_bytes(32))
        insert_ignore(conn, tenant_keys, [{
            "tenant_id": self.ctx.tenant_id, "provider": self.provider.name,
            "wrapped_key": wrapped, "created_at": datetime.now(UTC)}])
        # Another writer may have created it first: theirs is the one stored (and audited).
        stored: bytes = conn.execute(select(tenant_keys.c.wrapped_key).where(
            tenant_keys.c.tenant_id == self.ctx.tenant_id)).scalar_one()
        if stored == wrapped:
            audit.record(conn, self.ctx, "key.create", details={"key": "tenant",
                                                                "provider": self.provider.name})
        return stored

    def token(self, kind: str, value: str) -> str:
        """``<KIND_hex>``: the same value gives the same token within a tenant only."""
        cached = self._tokens.get((kind, value))
        if cached is not None:
            return cached
        if self._token_key is None:
            raise RuntimeError("Keyring.load(conn) must run before token()")
        mac = hmac.new(self._token_key, f"{kind}\x1f{value}".encode(), hashlib.sha256)
        tok = f"<{kind}_{mac.hexdigest()[:TOKEN_HEX]}>"
        if len(self._tokens) < 500_000:
            self._tokens[(kind, value)] = tok
        return tok

    # -- references: HMACs that name subjects, vault rows and idempotency keys ---------------

    def _mac(self, purpose: str, value: str) -> str:
        if self._ref_key is None:
            raise RuntimeError("Keyring.load(conn) must run before references are made")
        return hmac.new(self._ref_key, f"{purpose}\x1f{value}".encode(),
                        hashlib.sha256).hexdigest()

    def subject_ref(self, kind: str, token: str) -> str:
        """How the key and vault tables name a subject: never the pseudonym's text."""
        cached = self._tokens.get((f"ref:{kind}", token))
        if cached is None:
            cached = "s" + self._mac(f"subject:{kind}", token)[:40]
            if len(self._tokens) < 500_000:
                self._tokens[(f"ref:{kind}", token)] = cached
        return cached

    def vault_ref(self, token: str) -> str:
        """How a vault row names its token."""
        return "v" + self._mac("vault", token)[:40]

    def blind_key(self) -> bytes:
        """The key of the tenant's blind search index (keyed hashes of terms): destroying
        the tenant key makes the index unreadable too."""
        if self._blind_key is None:
            raise RuntimeError("Keyring.load(conn) must run before blind_key()")
        return self._blind_key

    def keyed_id(self, raw: str) -> str:
        """An idempotency key keyed with the tenant key (the input's own text is not kept)."""
        if raw.startswith("k:") and len(raw) == 42:
            return raw  # already keyed
        return "k:" + self._mac("idempotency", raw)[:40]

    def synthetic_nonce(self, purpose: str, value: str) -> bytes:
        """An AES-GCM nonce derived from the value (deterministic sealing: one value, one
        ciphertext, so the sealed form can be looked up; distinct values get distinct nonces)."""
        return bytes.fromhex(self._mac(f"nonce:{purpose}", value)[: 2 * _NONCE])

    def keyed_uuid(self, raw: str) -> str:
        h = self._mac("event-id", raw)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    # -- subject keys -------------------------------------------------------------------------

    def _aad(self, subject: str) -> bytes:
        return subject_key_aad(self.ctx.tenant_id, subject)

    def subject_key(self, conn: Connection, subject: str, create: bool = True) -> bytes | None:
        """The subject's data key (created on first use unless ``create`` is false)."""
        cached = self._subjects.get(subject)
        if cached is not None:
            return cached
        self._fresh_kek(conn)
        assert self._kek is not None
        wrapped = conn.execute(select(subject_keys.c.wrapped_key).where(
            subject_keys.c.tenant_id == self.ctx.tenant_id,
            subject_keys.c.subject == subject)).scalar()
        if wrapped is None:
            if not create:
                return None
            wrapped = self._create_subject_key(conn, subject)
        key = open_sealed(self._kek, wrapped, self._aad(subject))
        self._subjects[subject] = key
        return key

    def _create_subject_key(self, conn: Connection, subject: str) -> bytes:
        self._fresh_kek(conn, lock=True)
        assert self._kek is not None
        wrapped = seal(self._kek, secrets.token_bytes(32), self._aad(subject))
        insert_ignore(conn, subject_keys, [{
            "tenant_id": self.ctx.tenant_id, "subject": subject, "wrapped_key": wrapped,
            "created_at": datetime.now(UTC)}])
        # Another writer may have created it first: theirs is the one stored.
        stored: bytes = conn.execute(select(subject_keys.c.wrapped_key).where(
            subject_keys.c.tenant_id == self.ctx.tenant_id,
            subject_keys.c.subject == subject)).scalar_one()
        return stored

    def preload(self, conn: Connection, subjects: set[str]) -> None:
        """Unwrap (creating where missing) the keys of many subjects in a few statements."""
        self._fresh_kek(conn)
        assert self._kek is not None
        wanted = sorted(s for s in subjects if s not in self._subjects)
        found = self._wrapped_keys(conn, wanted)
        missing = [s for s in wanted if s not in found]
        if missing and self._fresh_kek(conn, lock=True):  # rotated meanwhile: read again
            wanted = sorted(subjects)
            found = self._wrapped_keys(conn, wanted)
            missing = [s for s in wanted if s not in found]
        if missing:
            now = datetime.now(UTC)
            new_rows: list[dict[str, object]] = [
                {"tenant_id": self.ctx.tenant_id, "subject": s, "created_at": now,
                 "wrapped_key": seal(self._kek, secrets.token_bytes(32), self._aad(s))}
                for s in missing]
            insert_ignore(conn, subject_keys, new_rows)
            found.update(self._wrapped_keys(conn, missing))  # a concurrent writer's key wins
        for subject, wrapped in found.items():
            self._subjects[subject] = open_sealed(self._kek, wrapped, self._aad(subject))

    def existing_keys(self, conn: Connection, subjects: set[str]) -> dict[str, bytes]:
        """Unwrapped keys of those ``subjects`` whose key still exists (none are created)."""
        if any(s not in self._subjects for s in subjects):
            self._fresh_kek(conn)
        assert self._kek is not None
        wanted = sorted(s for s in subjects if s not in self._subjects)
        for subject, wrapped in self._wrapped_keys(conn, wanted).items():
            self._subjects[subject] = open_sealed(self._kek, wrapped, self._aad(subject))
        return {s: self._subjects[s] for s in subjects if s in self._subjects}

    def _wrapped_keys(self, conn: Connection, subjects: list[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for i in range(0, len(subjects), 2000):
            rows = conn.execute(select(subject_keys.c.subject, subject_keys.c.wrapped_key).where(
                subject_keys.c.tenant_id == self.ctx.tenant_id,
                subject_keys.c.subject.in_(subjects[i : i + 2000]))).all()
            found.update((r.subject, r.wrapped_key) for r in rows)
        return found

    def destroy_subject_key(self, conn: Connection, subject: str) -> int:
        """Crypto-shred: delete the wrapped subject key (and forget the cached copy)."""
        self._subjects.pop(subject, None)
        result = conn.execute(delete(subject_keys).where(
            subject_keys.c.tenant_id == self.ctx.tenant_id, subject_keys.c.subject == subject))
        return int(result.rowcount or 0)

    def encrypt(self, key: bytes, subject: str, token: str, value: str) -> bytes:
        return seal(key, value.encode(), self._value_aad(subject, token))

    def decrypt(self, key: bytes, subject: str, token: str, sealed: bytes) -> str:
        return open_sealed(key, sealed, self._value_aad(subject, token)).decode()

    def _value_aad(self, subject: str, token: str) -> bytes:
        return f"vault\x1f{self.ctx.tenant_id}\x1f{subject}\x1f{token}".encode()


#: Key providers by name (``"key_provider"`` in the workspace config picks one).
ProviderFactory = Callable[[Path], KeyProvider]
_PROVIDERS: dict[str, ProviderFactory] = {
    "local": lambda workspace: LocalKeyProvider(master_key(workspace),
                                                lambda: integrity_secret(workspace)),
}


def register_key_provider(name: str, factory: ProviderFactory) -> None:
    """Plug in an external KMS: ``factory(workspace_path)`` returns its :class:`KeyProvider`."""
    _PROVIDERS[name] = factory


def derived_key(provider: KeyProvider, purpose: str) -> bytes:
    """``provider.derive(purpose)``: a provider (an external KMS) must offer it to key the
    audit chain, since that key may not live in the database."""
    derive = getattr(provider, "derive", None)
    if derive is None:
        raise ConfigError(f"Key provider {provider.name!r} cannot derive keys; give it a "
                          "'derive(purpose) -> bytes' method (HKDF or the KMS's own MAC) so "
                          "the audit chain can be keyed.")
    key: bytes = derive(purpose)
    return key


def provider_for(workspace: Path, config: Mapping[str, Any]) -> KeyProvider:
    name = str(config.get("key_provider", "local"))
    factory = _PROVIDERS.get(name)
    if factory is None:
        raise ConfigError(f"Workspace config 'key_provider' names {name!r}, which is not "
                          f"registered; known: {', '.join(sorted(_PROVIDERS))}.")
    return factory(workspace)
