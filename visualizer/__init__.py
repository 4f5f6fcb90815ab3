"""The pygame control room: a read-only telemetry mirror and operator commands (docs/control-room.md)."""

import os

# pygame prints a banner on import unless told not to; the control room is a CLI tool.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
