"""What mock-llm answers (mock-llm/compose.c, weather.c), so tests can check answers exactly.

mock-llm is a deterministic test double, not a language model: the answer to a plain message is
  Mock reply to: "<last user text, 80 chars>". [Earlier you said: "<previous user text>".]
  (context: N messages) This is a deterministic answer from mock-llm, ...
and a message with the word "long" gets about 300 tokens of filler appended.
"""
from __future__ import annotations

import re
import uuid

FILLER = (" This is a deterministic answer from mock-llm, a test double and not a language "
          "model. It lets tests and benchmarks run offline.")
CONTEXT_RX = re.compile(r"\(context: (\d+) messages\)")


def marker(prefix: str = "m") -> str:
    """A unique word to find a message's echo (letters and digits only)."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def echo(text: str) -> str:
    """The quoted part of an echo: at most 80 characters, control characters as spaces."""
    return "".join(" " if ord(ch) < 0x20 else ch for ch in text[:80])


def reply_prefix(last: str, prev: str | None = None) -> str:
    s = f'Mock reply to: "{echo(last)}".'
    if prev is not None:
        s += f' Earlier you said: "{echo(prev)}".'
    return s


def plain_reply(last: str, n_messages: int, prev: str | None = None) -> str:
    """The whole answer to a message without "long"/"markdown"/weather words."""
    return f"{reply_prefix(last, prev)} (context: {n_messages} messages){FILLER}"


def context_count(text: str) -> int | None:
    m = CONTEXT_RX.search(text)
    return int(m.group(1)) if m else None


TEMP_KEYS = ("temperature", "temp", "temperature_c", "temp_c", "temperature_f", "temp_f")
COND_KEYS = ("condition", "conditions", "description", "summary", "weather", "forecast")


def scalar_text(v) -> str:
    """How mock-llm prints a scalar tool-result value (strings plain, 18.0 as 18)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def pick(obj: dict, keys) -> tuple[str | None, object]:
    for k in keys:
        if k in obj and obj[k] is not None and not isinstance(obj[k], (dict, list)):
            return k, obj[k]
    return None, None
