"""The payload codec of durable-sessions (docs/encryption.md) for the Temporal Python SDK, and where its keys come from.

Used by agent.py; run it as a script to encode or decode payloads by hand (the remote codec's JSON on stdin/stdout):

    python3 session_codec.py decode < payloads.json

Every payload is encrypted with AES-256-GCM (no associated data): `data` is a 12-byte random nonce, then the
ciphertext, then the 16-byte tag; the plaintext is the whole original Payload serialised as protobuf. The metadata is
`encoding: binary/encrypted` and `encryption-key-id: <key id>` (UTF-8). The key ring is newest first: the first
key encrypts, any key decrypts the payloads that name it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import copy
import dataclasses
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)

ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
# Keys per session (docs/encryption.md, "Keys per session and crypto-shredding"): the data key's id instead.
SESSION_KEY_METADATA = "encryption-session-key"
SESSION_WORKFLOW_PREFIX = "session/"
# How long a data key found in Postgres is reused for reading, as in the TypeScript stack (SESSION_KEY_CACHE_MS).
SESSION_KEY_CACHE_SECONDS = 30.0
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Standard or URL-safe alphabet, padding optional; anything else is refused so a typo never becomes another key.
BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


class CodecKey(NamedTuple):
    id: str
    key: bytes


class CodecError(Exception):
    """The codec cannot do its work; the message says why and what to configure."""


class PayloadDecryptionError(CodecError):
    """A payload this codec cannot decrypt: unknown key id, tampered or truncated data, malformed metadata."""


class PayloadErasedError(PayloadDecryptionError):
    """A payload of a deleted session: its data key is destroyed, so it can never be decrypted again."""


class MissingKeysError(CodecError):
    """Encryption is on (not DS_CODEC_DISABLED) but this process was given no keys."""


class AesGcmCodec(PayloadCodec):
    """Encrypts with the first key of the ring; decrypts with whichever key a payload names."""

    def __init__(self, ring: Sequence[CodecKey], *, nonce: Callable[[], bytes] = lambda: os.urandom(NONCE_BYTES)):
        self._ring = key_ring(ring, "AesGcmCodec")
        self._keys = {k.id: AESGCM(k.key) for k in self._ring}
        # Only the test vectors pass a fixed nonce; a nonce must never repeat under one key.
        self._nonce = nonce

    @property
    def current_key_id(self) -> str:
        return self._ring[0].id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [p if is_encrypted(p) else self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        # Payloads written before encryption was turned on pass through, as in the TypeScript codec.
        return [self.decrypt(p) if is_encrypted(p) else p for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._ring[0].id
        nonce = self._nonce()
        sealed = self._keys[key_id].encrypt(nonce, payload.SerializeToString(deterministic=True), None)
        return Payload(
            metadata={"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA: key_id.encode("utf-8")},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if KEY_ID_METADATA not in payload.metadata:
            raise PayloadDecryptionError(f"encrypted payload without {KEY_ID_METADATA} metadata")
        key_id = payload.metadata[KEY_ID_METADATA].decode("utf-8", errors="replace")
        aes = self._keys.get(key_id)
        if aes is None:
            known = ", ".join(k.id for k in self._ring)
            raise PayloadDecryptionError(
                f"payload encrypted with key {json.dumps(key_id)}, which is not in the key ring (known: {known}); "
                "add it to DS_CODEC_KEYS or the key file"
            )
        data = payload.data
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadDecryptionError(f"encrypted payload too short ({len(data)} bytes)")
        try:
            plaintext = aes.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
        except InvalidTag as err:
            raise PayloadDecryptionError(
                f"payload failed authentication with key {json.dumps(key_id)}: tampered, truncated or the wrong key"
            ) from err
        return Payload.FromString(plaintext)


class NoKeysCodec(PayloadCodec):
    """What a client without keys gets: it refuses to send message text in clear and says which keys are missing.
    Only DS_CODEC_DISABLED=1 (a stack that runs without encryption) sends payloads unencrypted."""

    def __init__(self, reason: str):
        self._reason = reason

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        raise self._error()

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if any(is_encrypted(p) for p in payloads):
            raise self._error()
        return list(payloads)

    def _error(self) -> MissingKeysError:
        return MissingKeysError(
            f"no codec keys ({self._reason}): give this client the stack's keys in DS_CODEC_KEYS or DS_CODEC_KEY_FILE "
            "(for the embedded stack of `npm start`, leave TEMPORAL_ADDRESS unset: its data directory's "
            "codec-keys.json is then read), or set DS_CODEC_DISABLED=1 for a stack that runs without encryption"
        )


class SessionKeys:
    """The stack's data keys per session, kept in its Postgres (table `session_key`) wrapped by the master keys:
    AES-256-GCM under the master key `master_key_id`, 12-byte nonce, then the ciphertext and the 16-byte tag, with
    the associated data `durable-sessions session key\\0<key id>\\0<session id>`. A write asks which key is live on
    every call (a session deleted by another process is never written with its retired key), creating it with
    `ds_session_key` when the session has none; a read finds the key a payload names (cached for 30 s). One
    connection (psycopg), opened on first use."""

    def __init__(self, ring: Sequence[CodecKey], database_url: str):
        self._ring = key_ring(ring, "SessionKeys")
        self._masters = {k.id: AESGCM(k.key) for k in self._ring}
        self._url = database_url
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._by_id: dict[str, tuple[bytes | None, float]] = {}

    async def live(self, session_id: str) -> tuple[str, bytes]:
        """The key new payloads of the session are sealed with: (its id, the 32 bytes)."""
        rows = await self._query(
            "SELECT key_id, wrapped, master_key_id FROM session_key WHERE session_id = %s AND retired_at IS NULL",
            (session_id,),
        )
        if not rows:
            candidate_id = "s" + os.urandom(16).hex()
            candidate = os.urandom(KEY_BYTES)
            newest = self._ring[0]
            nonce = os.urandom(NONCE_BYTES)
            wrapped = nonce + AESGCM(newest.key).encrypt(nonce, candidate, _key_aad(candidate_id, session_id))
            rows = await self._query(
                "SELECT key_id, wrapped, master_key_id FROM ds_session_key(%s, %s, %s, %s)",
                (session_id, candidate_id, wrapped, newest.id),
            )
        key_id, wrapped, master_key_id = rows[0]
        key = self._unwrap(master_key_id, bytes(wrapped), key_id, session_id)
        self._by_id[key_id] = (key, time.monotonic() + SESSION_KEY_CACHE_SECONDS)
        return key_id, key

    async def by_id(self, key_id: str) -> bytes | None:
        """The key a payload names; None when it is destroyed (its session was deleted). A key the actor's delete
        retired still opens: the run that deleted the session may replay its history until the key is destroyed."""
        hit = self._by_id.get(key_id)
        if hit and hit[1] > time.monotonic():
            return hit[0]
        rows = await self._query(
            "SELECT session_id, wrapped, master_key_id FROM session_key WHERE key_id = %s", (key_id,)
        )
        key = self._unwrap(rows[0][2], bytes(rows[0][1]), key_id, rows[0][0]) if rows else None
        self._by_id[key_id] = (key, time.monotonic() + SESSION_KEY_CACHE_SECONDS)
        return key

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _query(self, sql: str, params: tuple) -> list[tuple]:
        # One connection runs one statement at a time; the SDK may encode several payload lists at once.
        async with self._lock:
            if self._conn is None:
                import psycopg  # only a client with keys per session needs the driver

                self._conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
            cursor = await self._conn.execute(sql, params)
            return list(await cursor.fetchall())

    def _unwrap(self, master_key_id: str, wrapped: bytes, key_id: str, session_id: str) -> bytes:
        master = self._masters.get(master_key_id)
        if master is None:
            known = ", ".join(k.id for k in self._ring)
            raise PayloadDecryptionError(
                f"session key {key_id} is wrapped by master key {json.dumps(master_key_id)}, which is not in the key "
                f"ring (known: {known})"
            )
        try:
            return master.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _key_aad(key_id, session_id))
        except InvalidTag as err:
            raise PayloadDecryptionError(
                f"session key {key_id} does not unwrap: tampered or the wrong master key"
            ) from err


def _key_aad(key_id: str, session_id: str) -> bytes:
    return f"durable-sessions session key\0{key_id}\0{session_id}".encode("utf-8")


class SessionKeyCodec(PayloadCodec, WithSerializationContext):
    """Keys per session: a payload of a session's workflow (`session/<id>`, which the SDK names in the serialization
    context) is sealed with that session's data key, named in `encryption-session-key`; anything else with the master
    key, as AesGcmCodec. Decoding needs no context: the payload names its key."""

    def __init__(self, ring: Sequence[CodecKey], keys: SessionKeys, session_id: str | None = None):
        self._master = AesGcmCodec(ring)
        self._keys = keys
        self._session_id = session_id

    def with_context(self, context: SerializationContext) -> "SessionKeyCodec":
        workflow_id = getattr(context, "workflow_id", None)
        bound = copy.copy(self)
        bound._session_id = (
            workflow_id[len(SESSION_WORKFLOW_PREFIX) :]
            if isinstance(workflow_id, str) and workflow_id.startswith(SESSION_WORKFLOW_PREFIX)
            else None
        )
        return bound

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if self._session_id is None or all(is_encrypted(p) for p in payloads):
            return await self._master.encode(payloads)
        key_id, key = await self._keys.live(self._session_id)
        aes = AESGCM(key)
        sealed = []
        for p in payloads:
            if is_encrypted(p):
                sealed.append(p)
                continue
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + aes.encrypt(nonce, p.SerializeToString(deterministic=True), None)
            sealed.append(
                Payload(
                    metadata={"encoding": ENCRYPTED_ENCODING, SESSION_KEY_METADATA: key_id.encode("utf-8")},
                    data=data,
                )
            )
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = []
        for p in payloads:
            if not is_encrypted(p) or SESSION_KEY_METADATA not in p.metadata:
                opened.extend(await self._master.decode([p]))
                continue
            key_id = p.metadata[SESSION_KEY_METADATA].decode("utf-8", errors="replace")
            key = await self._keys.by_id(key_id)
            if key is None:
                raise PayloadErasedError(
                    f"payload of a deleted session: its data key {key_id} is destroyed (erased)"
                )
            if len(p.data) < NONCE_BYTES + TAG_BYTES:
                raise PayloadDecryptionError(f"encrypted payload too short ({len(p.data)} bytes)")
            try:
                plaintext = AESGCM(key).decrypt(p.data[:NONCE_BYTES], p.data[NONCE_BYTES:], None)
            except InvalidTag as err:
                raise PayloadDecryptionError(
                    f"payload failed authentication with session key {key_id}: tampered or truncated"
                ) from err
            opened.append(Payload.FromString(plaintext))
        return opened


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == ENCRYPTED_ENCODING


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The SDK's default converter with the codec (None: DS_CODEC_DISABLED). The Python SDK runs the codec over
    failure payloads (details, encoded attributes) by itself; the failure converter also moves messages and stack
    traces of failures this process raises into an encoded, hence encrypted, attribute."""
    if codec is None:
        return DataConverter.default
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


# --- Keys: the same sources, in the same order, as the TypeScript stack (src/codec/index.ts, src/config.ts).


def decode_key(text: str, where: str) -> bytes:
    clean = text.strip()
    if not BASE64.match(clean):
        raise ValueError(f"{where}: the key is not base64")
    padded = clean + "=" * (-len(clean) % 4)
    try:
        if "-" in clean or "_" in clean:
            return base64.b64decode(padded, altchars=b"-_", validate=True)
        return base64.b64decode(padded, validate=True)
    except binascii.Error as err:
        raise ValueError(f"{where}: the key is not base64") from err


def key_ring(keys: Sequence[CodecKey], where: str) -> list[CodecKey]:
    if not keys:
        raise ValueError(f"{where}: no keys")
    seen: set[str] = set()
    for k in keys:
        if not KEY_ID.match(k.id):
            raise ValueError(f"{where}: key id {json.dumps(k.id)} must match {KEY_ID.pattern}")
        if len(k.key) != KEY_BYTES:
            raise ValueError(f"{where}: key {k.id} must be {KEY_BYTES} bytes (base64), got {len(k.key)}")
        if k.id in seen:
            raise ValueError(f"{where}: key id {k.id} is listed twice")
        seen.add(k.id)
    return list(keys)


def parse_key_ring(raw: str, where: str = "DS_CODEC_KEYS") -> list[CodecKey] | None:
    """`id:<base64 of 32 bytes>,…`, newest first; None when empty."""
    entries = [e.strip() for e in raw.split(",") if e.strip()]
    if not entries:
        return None
    keys = []
    for i, entry in enumerate(entries, start=1):
        key_id, colon, text = entry.partition(":")
        if not colon or not key_id:
            raise ValueError(f"{where} entry {i}: expected id:<base64 key>")
        keys.append(CodecKey(key_id, decode_key(text, f"{where} entry {i}")))
    return key_ring(keys, where)


def read_key_file(file: Path) -> list[CodecKey]:
    """`{"keys": [{"id": "k2", "key": "<base64>"}, …]}`, newest first."""
    try:
        parsed = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"codec key file {file}: {err}") from err
    if not isinstance(parsed, dict) or not isinstance(parsed.get("keys"), list):
        raise ValueError(f'codec key file {file}: expected {{"keys": [...]}}')
    keys = [
        CodecKey(str(k.get("id")), decode_key(str(k.get("key")), f"{file} key {i}"))
        for i, k in enumerate(parsed["keys"], start=1)
    ]
    return key_ring(keys, f"codec key file {file}")


def project_root(env: Mapping[str, str]) -> Path:
    """DURABLE_SESSIONS_ROOT, else the checkout this file lives in (examples/python/..)."""
    if env.get("DURABLE_SESSIONS_ROOT"):
        return Path(env["DURABLE_SESSIONS_ROOT"]).resolve()
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "package.json").exists() else Path.cwd()


def data_dir(env: Mapping[str, str]) -> Path:
    """DURABLE_SESSIONS_DATA_DIR (relative to the project root), default `.data`."""
    return project_root(env) / env.get("DURABLE_SESSIONS_DATA_DIR", ".data")


def embedded_key_file(directory: Path) -> Path:
    return directory / "codec-keys.json"


class ResolvedKeys(NamedTuple):
    ring: list[CodecKey] | None
    source: str


def resolve_keys(env: Mapping[str, str], embedded: bool) -> ResolvedKeys:
    """DS_CODEC_DISABLED, else DS_CODEC_KEYS, else DS_CODEC_KEY_FILE (relative to the project root), else, only for
    the embedded stack (no TEMPORAL_ADDRESS), `<data dir>/codec-keys.json` when `npm start` has made it."""
    if env.get("DS_CODEC_DISABLED") in ("1", "true"):
        return ResolvedKeys(None, "DS_CODEC_DISABLED")
    ring = parse_key_ring(env.get("DS_CODEC_KEYS", ""))
    if ring:
        return ResolvedKeys(ring, "DS_CODEC_KEYS")
    if env.get("DS_CODEC_KEY_FILE"):
        return ResolvedKeys(read_key_file(project_root(env) / env["DS_CODEC_KEY_FILE"]), "DS_CODEC_KEY_FILE")
    if embedded:
        file = embedded_key_file(data_dir(env))
        if file.exists():
            return ResolvedKeys(read_key_file(file), str(file))
        return ResolvedKeys(None, f"no {file}")
    return ResolvedKeys(None, "TEMPORAL_ADDRESS is set and no DS_CODEC_KEYS or DS_CODEC_KEY_FILE is given")


def session_keys_on(env: Mapping[str, str]) -> bool:
    """DS_CODEC_SESSION_KEYS as the stack reads it (src/config.ts): on unless it is `0` or `false`."""
    return env.get("DS_CODEC_SESSION_KEYS", "").strip().lower() not in ("0", "false")


def codec_for(keys: ResolvedKeys, database_url: str | None = None) -> PayloadCodec | None:
    """The codec for these keys; None only when encryption is switched off (DS_CODEC_DISABLED). With the stack's
    Postgres (`database_url`), payloads of a session are sealed with the session's own key (SessionKeyCodec)."""
    if keys.source == "DS_CODEC_DISABLED":
        return None
    if not keys.ring:
        return NoKeysCodec(keys.source)
    return SessionKeyCodec(keys.ring, SessionKeys(keys.ring, database_url)) if database_url else AesGcmCodec(keys.ring)


# --- The command line: Temporal's remote codec JSON ({"payloads": [{"metadata": {k: base64}, "data": base64}]}).


def payloads_from_json(body: Mapping) -> list[Payload]:
    return [
        Payload(
            metadata={k: base64.b64decode(v) for k, v in (p.get("metadata") or {}).items()},
            data=base64.b64decode(p.get("data") or ""),
        )
        for p in body["payloads"]
    ]


def payloads_to_json(payloads: Sequence[Payload]) -> dict:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode("ascii") for k, v in sorted(p.metadata.items())},
                "data": base64.b64encode(p.data).decode("ascii"),
            }
            for p in payloads
        ]
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Encode or decode payloads (remote codec JSON) on stdin.")
    parser.add_argument("operation", choices=["encode", "decode"])
    args = parser.parse_args()
    keys = resolve_keys(os.environ, embedded=not os.environ.get("TEMPORAL_ADDRESS"))
    if not keys.ring:
        print(f"no codec keys: {keys.source}", file=sys.stderr)
        return 1
    codec = AesGcmCodec(keys.ring)
    payloads = payloads_from_json(json.load(sys.stdin))
    result = asyncio.run(codec.encode(payloads) if args.operation == "encode" else codec.decode(payloads))
    json.dump(payloads_to_json(result), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
