"""Unit tests of session_codec.py against the shared test vectors (test/fixtures/codec-vectors.json).

Run by test/python-example.test.ts with the venv's python (`python -m unittest test_session_codec`); no Postgres
(keys per session are faked here; agent.py against the stack reads the real ones).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import tempfile
import unittest
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext

import session_codec as sc

VECTORS = json.loads(
    Path(
        os.environ.get("CODEC_VECTORS")
        or Path(__file__).resolve().parents[2] / "test" / "fixtures" / "codec-vectors.json"
    ).read_text(encoding="utf-8")
)


def ring() -> list[sc.CodecKey]:
    return [sc.CodecKey(k["id"], base64.b64decode(k["key"])) for k in VECTORS["key_file"]["keys"]]


def payload(body: dict) -> Payload:
    return sc.payloads_from_json({"payloads": [body]})[0]


def run(coro):
    return asyncio.run(coro)


class Vectors(unittest.TestCase):
    def test_decodes_every_vector(self) -> None:
        codec = sc.AesGcmCodec(ring())
        for v in VECTORS["vectors"]:
            with self.subTest(v["name"]):
                [decoded] = run(codec.decode([payload(v["encrypted"])]))
                self.assertEqual(decoded, payload(v["payload"]))

    def test_encrypts_to_the_same_bytes_given_the_same_nonce(self) -> None:
        for v in VECTORS["vectors"]:
            with self.subTest(v["name"]):
                keys = [k for k in ring() if k.id == v["key_id"]]
                codec = sc.AesGcmCodec(keys, nonce=lambda: bytes.fromhex(v["nonce"]))
                plain = payload(v["payload"])
                self.assertEqual(plain.SerializeToString(deterministic=True).hex(), v["payload_proto"])
                [encrypted] = run(codec.encode([plain]))
                self.assertEqual(encrypted, payload(v["encrypted"]))

    def test_refuses_what_must_fail(self) -> None:
        codec = sc.AesGcmCodec(ring())
        for v in VECTORS["must_fail"]:
            with self.subTest(v["name"]):
                with self.assertRaisesRegex(sc.PayloadDecryptionError, v["error"]):
                    run(codec.decode([payload(v["encrypted"])]))


class Codec(unittest.TestCase):
    def test_round_trip_with_a_fresh_nonce_each_time(self) -> None:
        codec = sc.AesGcmCodec(ring())
        plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"user":"hi"}')
        first, second = run(codec.encode([plain, plain]))
        self.assertNotEqual(first.data, second.data)
        self.assertEqual(first.metadata[sc.KEY_ID_METADATA], ring()[0].id.encode())
        self.assertEqual(run(codec.decode([first, second])), [plain, plain])

    def test_clear_payloads_pass_through_and_encrypted_ones_are_not_encrypted_twice(self) -> None:
        codec = sc.AesGcmCodec(ring())
        plain = Payload(metadata={"encoding": b"json/plain"}, data=b"1")
        self.assertEqual(run(codec.decode([plain])), [plain])
        encrypted = payload(VECTORS["vectors"][0]["encrypted"])
        self.assertEqual(run(codec.encode([encrypted])), [encrypted])

    def test_without_keys_nothing_is_sent_in_clear_and_the_error_says_what_is_missing(self) -> None:
        codec = sc.codec_for(sc.ResolvedKeys(None, "no .data/codec-keys.json"))
        assert codec is not None
        plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"user":"secret"}')
        missing = r"no codec keys \(no \.data/codec-keys\.json\).*DS_CODEC_KEYS"
        with self.assertRaisesRegex(sc.MissingKeysError, missing):
            run(codec.encode([plain]))
        with self.assertRaisesRegex(sc.MissingKeysError, "DS_CODEC_KEY_FILE"):
            run(codec.decode([payload(VECTORS["vectors"][0]["encrypted"])]))
        # Only an explicit DS_CODEC_DISABLED talks in clear.
        self.assertIsNone(sc.codec_for(sc.resolve_keys({"DS_CODEC_DISABLED": "1"}, embedded=True)))


class FakeSessionKeys:
    """SessionKeys without Postgres: one live key per session, destroyed on request."""

    def __init__(self) -> None:
        self.live_keys: dict[str, tuple[str, bytes]] = {}
        self.by_key: dict[str, bytes] = {}

    async def live(self, session_id: str) -> tuple[str, bytes]:
        if session_id not in self.live_keys:
            key_id, key = "s" + os.urandom(16).hex(), os.urandom(32)
            self.live_keys[session_id] = (key_id, key)
            self.by_key[key_id] = key
        return self.live_keys[session_id]

    async def by_id(self, key_id: str) -> bytes | None:
        return self.by_key.get(key_id)

    def destroy(self, session_id: str) -> None:
        key_id, _ = self.live_keys.pop(session_id)
        del self.by_key[key_id]


class SessionKeyCodecTest(unittest.TestCase):
    def context(self, workflow_id: str) -> WorkflowSerializationContext:
        return WorkflowSerializationContext(namespace="default", workflow_id=workflow_id)

    def test_a_session_workflow_is_sealed_with_its_own_key_anything_else_with_the_master_key(self) -> None:
        keys = FakeSessionKeys()
        codec = sc.SessionKeyCodec(ring(), keys)  # type: ignore[arg-type]
        turn = Payload(metadata={"encoding": b"json/plain"}, data=b'{"user":"secret"}')
        [a] = run(codec.with_context(self.context("session/a")).encode([turn]))
        [b] = run(codec.with_context(self.context("session/b")).encode([turn]))
        [other] = run(codec.with_context(self.context("cleanup/x")).encode([turn]))
        self.assertEqual(a.metadata[sc.SESSION_KEY_METADATA].decode(), keys.live_keys["a"][0])
        self.assertNotEqual(a.metadata[sc.SESSION_KEY_METADATA], b.metadata[sc.SESSION_KEY_METADATA])
        self.assertNotIn(sc.KEY_ID_METADATA, a.metadata)
        self.assertEqual(other.metadata[sc.KEY_ID_METADATA].decode(), ring()[0].id)
        self.assertNotIn(b"secret", a.data)
        # Decoding needs no context: the payload names its key.
        self.assertEqual(run(codec.decode([a, b, other])), [turn, turn, turn])

    def test_a_deleted_sessions_payloads_are_erased_and_the_others_still_decode(self) -> None:
        keys = FakeSessionKeys()
        codec = sc.SessionKeyCodec(ring(), keys)  # type: ignore[arg-type]
        turn = Payload(metadata={"encoding": b"json/plain"}, data=b'{"user":"x"}')
        [gone] = run(codec.with_context(self.context("session/gone")).encode([turn]))
        [kept] = run(codec.with_context(self.context("session/kept")).encode([turn]))
        keys.destroy("gone")
        with self.assertRaises(sc.PayloadErasedError):
            run(codec.decode([gone]))
        self.assertEqual(run(codec.decode([kept])), [turn])

    def test_ds_codec_session_keys_is_on_unless_switched_off(self) -> None:
        self.assertTrue(sc.session_keys_on({}))
        self.assertTrue(sc.session_keys_on({"DS_CODEC_SESSION_KEYS": "1"}))
        self.assertFalse(sc.session_keys_on({"DS_CODEC_SESSION_KEYS": "0"}))
        self.assertFalse(sc.session_keys_on({"DS_CODEC_SESSION_KEYS": "false"}))


class Keys(unittest.TestCase):
    def test_ds_codec_keys_takes_standard_and_url_safe_base64_with_or_without_padding(self) -> None:
        self.assertEqual(sc.parse_key_ring(VECTORS["ds_codec_keys"]), ring())
        self.assertIsNone(sc.parse_key_ring(" , "))

    def test_refuses_keys_that_are_not_exactly_right(self) -> None:
        good = VECTORS["key_file"]["keys"][0]["key"]
        for raw, error in [
            ("k1", "expected id:<base64 key>"),
            (f":{good}", "expected id:<base64 key>"),
            ("k1:not base64!", "not base64"),
            ("k1:" + base64.b64encode(bytes(16)).decode(), "must be 32 bytes"),
            (f"bad id:{good}", "must match"),
            (f"k1:{good},k1:{good}", "listed twice"),
        ]:
            with self.subTest(raw):
                with self.assertRaisesRegex(ValueError, error):
                    sc.parse_key_ring(raw)

    def test_resolves_keys_in_the_order_of_the_typescript_stack(self) -> None:
        with tempfile.TemporaryDirectory() as root:
            data = Path(root, ".data")
            data.mkdir()
            Path(data, "codec-keys.json").write_text(json.dumps(VECTORS["key_file"]))
            Path(root, "other.json").write_text(json.dumps({"keys": VECTORS["key_file"]["keys"][1:]}))
            base = {"DURABLE_SESSIONS_ROOT": root}
            newest, older = ring()

            embedded = sc.resolve_keys(base, embedded=True)
            self.assertEqual((embedded.ring, embedded.source), (ring(), str(Path(root, ".data", "codec-keys.json"))))
            # A configured Temporal never picks up the embedded stack's key file.
            self.assertIsNone(sc.resolve_keys(base, embedded=False).ring)
            from_file = sc.resolve_keys({**base, "DS_CODEC_KEY_FILE": "other.json"}, embedded=True)
            self.assertEqual(from_file.ring, [older])
            env_keys = {**base, "DS_CODEC_KEY_FILE": "other.json", "DS_CODEC_KEYS": VECTORS["ds_codec_keys"]}
            self.assertEqual(sc.resolve_keys(env_keys, embedded=False).ring, [newest, older])
            self.assertIsNone(sc.resolve_keys({**env_keys, "DS_CODEC_DISABLED": "1"}, embedded=True).ring)
            moved = {**base, "DURABLE_SESSIONS_DATA_DIR": "elsewhere"}
            self.assertIsNone(sc.resolve_keys(moved, embedded=True).ring)


if __name__ == "__main__":
    unittest.main()
