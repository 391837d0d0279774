"""Small values an app instance keeps in its data directory: made once, then read back."""
from __future__ import annotations

import os
from typing import Callable


def kept(data_dir: str, name: str, make: Callable[[], str], private: bool = True) -> str:
    """The value in DATA_DIR/NAME, made with MAKE (and written, mode 0600 when PRIVATE) the
    first time."""
    path = os.path.join(data_dir, name)
    try:
        with open(path, encoding="utf-8") as handle:
            value = handle.read().strip()
            if value:
                return value
    except OSError:
        pass
    os.makedirs(data_dir, exist_ok=True)
    value = make()
    mode = 0o600 if private else 0o644
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "w", encoding="utf-8") as handle:
        handle.write(value)
    return value
