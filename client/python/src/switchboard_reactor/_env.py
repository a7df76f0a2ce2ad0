"""The SDK's environment variables.

None starts with ``SWITCHBOARD_``: a Switchboard node reads every such
variable as one of its config keys (``SWITCHBOARD_P2P_LADDR``) and refuses to
start on one it does not know, and a reactor often shares its shell with a
node. The names of earlier releases still work, for one release, with a
:class:`FutureWarning`.
"""

from __future__ import annotations

import os
import warnings

__all__ = ["LEGACY_NAMES", "TOKEN_ENV_VAR", "TRACE_ENV_VAR", "getenv"]

#: ``SB_CLIENT_TRACE=1`` logs every state transition and re-attach attempt on stderr (the TypeScript SDK's name too).
TRACE_ENV_VAR = "SB_CLIENT_TRACE"
#: The bearer token ``switchboard_reactor.cli`` takes by default (``--token``).
TOKEN_ENV_VAR = "SB_TOKEN"
#: The names these had before, read when the new one is not set (deprecated: a node in the same shell refuses them).
LEGACY_NAMES = {TRACE_ENV_VAR: "SWITCHBOARD_REACTOR_TRACE", TOKEN_ENV_VAR: "SWITCHBOARD_TOKEN"}


def getenv(name: str) -> str:
    """The value of ``name``; else of its deprecated name, with a :class:`FutureWarning`; else ``""``."""
    value = os.environ.get(name, "")
    legacy = LEGACY_NAMES.get(name)
    if value or legacy is None:
        return value
    old = os.environ.get(legacy, "")
    if old:
        warnings.warn(
            f"{legacy} is deprecated and stops working in the next release: a Switchboard node started "
            f"with it in its environment refuses to start (it reads every SWITCHBOARD_* variable as a config key). "
            f"Set {name} instead.",
            FutureWarning,
            stacklevel=3,
        )
    return old
