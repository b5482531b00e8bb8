"""Secret keys of the patient side, one file each in the data directory (32 random bytes, mode 0600).

Made once, atomically (a hard link refuses to replace a key another process made first), so every process and
node sharing the data directory agrees and a restart keeps them. ``patient-web.key`` signs CSRF tokens;
``patient-secrets.key`` seals the TOTP secrets stored in the database (a database dump alone does not give them).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

WEB_KEY = "patient-web.key"
SEALING_KEY = "patient-secrets.key"


def load_key(data_dir: Path, name: str) -> bytes:
    path = data_dir / name
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f".{name}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(32))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # another process may have won the race: keep its key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()
