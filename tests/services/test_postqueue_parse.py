"""`postqueue -j` lines: any line (hostile, truncated, of the wrong shape) is an entry or nothing, never an error, and
an entry always makes a QueuedMessage (the list types only the messages it shows: `message_of` must not fail)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from portal.integrations.postfix import message_of, parse_entry, parse_line

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=20)
FIELDS = st.fixed_dictionaries({}, optional={
    "queue_id": JSON | st.text(max_size=12), "queue_name": JSON | st.sampled_from(["deferred", "hold"]),
    "arrival_time": JSON | st.integers(0, 2**40), "message_size": JSON | st.integers(0, 2**31),
    "sender": JSON | st.emails(), "recipients": JSON | st.lists(st.fixed_dictionaries(
        {"address": st.emails()}, optional={"delay_reason": st.text(max_size=40)}), max_size=3),
    "forced_expire": JSON,
})


@given(FIELDS)
def test_an_entry_always_makes_a_message(data: dict) -> None:
    line = json.dumps(data).encode()
    entry = parse_entry(line)
    if entry is not None:
        message = message_of(entry)
        assert message is not None and message.queue_id == data["queue_id"]
        assert parse_line(line) == message
    else:
        assert parse_line(line) is None


@given(st.binary(max_size=200))
def test_any_bytes_are_an_entry_or_nothing(line: bytes) -> None:
    entry = parse_entry(line)
    assert entry is None or message_of(entry) is not None


def test_a_real_line() -> None:
    line = (b'{"queue_name": "deferred", "queue_id": "4F2B3C1A2B", "arrival_time": 1764300000, '
            b'"message_size": 512, "forced_expire": false, "sender": "a@example.org", "recipients": '
            b'[{"address": "b@example.net", "delay_reason": "connect to relay: Connection refused"}]}')
    message = parse_line(line)
    assert message is not None and message.arrival_time == 1764300000 and message.size == 512
    assert message.recipients[0].delay_reason.startswith("connect to relay")
