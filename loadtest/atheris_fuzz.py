"""Coverage-guided fuzzing (atheris) of the decoders of `/agent`, `/admin` and `/switch`.

    python -m loadtest.atheris_fuzz -runs=100000

Each input goes to the three codecs as bytes (MessagePack) and as text (JSON); anything but a
decoded message or a `FrameError` with a known code is a crash atheris reports. atheris is
optional (`pip install atheris`); the hypothesis tests cover the same ground in CI.
"""

from __future__ import annotations

import sys
from typing import Any

from agent_gateway import admin_messages as am
from agent_gateway import messages as agm
from agent_gateway.framing import Codec, FrameError
from ivr import messages as sm

CODECS: list[Codec[Any]] = [Codec(agm.REQUESTS), Codec(am.REQUESTS), Codec(sm.SWITCH_MESSAGES)]
CODES = {"bad_frame", "bad_message", "unknown_type"}


def one_input(data: bytes) -> None:
    """The fuzz target."""
    text = data.decode("utf-8", errors="replace")
    for codec in CODECS:
        for frame in (data, text):
            try:
                codec.decode(frame)
            except FrameError as err:
                if err.code not in CODES:
                    raise AssertionError(f"untyped code {err.code!r}") from err


def main() -> None:
    """Run atheris over `one_input` (its own flags: -runs=N, -max_len=N...)."""
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

    atheris.instrument_all()  # coverage of the Python code the decoders run
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
