"""The baseline: a bare aiosmtpd server whose handler discards every message (run as its own process)."""

from __future__ import annotations

import asyncio
import sys

from aiosmtpd.smtp import SMTP


class Discard:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


async def main(port_file: str) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Discard(), enable_SMTPUTF8=True, loop=loop), "127.0.0.1", 0)
    with open(port_file, "w") as handle:
        handle.write(str(server.sockets[0].getsockname()[1]))
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
