"""The test tools' pid files (--pidfile): a test waits for the file, so
it appears whole (written beside it, then renamed) once the tool is
ready, and goes when the tool has stopped (serve_until_signal, for the
asyncio servers)."""
import asyncio
import os
import signal


def write(path):
    """Write this process's pid to path, atomically."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, path)


def remove(path):
    """Remove the pid file, if it is still there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


async def serve_until_signal(path, close):
    """An asyncio server's life after it listens: the pid file (path,
    when not None) says it is ready; SIGTERM or SIGINT stops it; close()
    shuts it down and finishes its files, and only then does the pid
    file go (a test waits for that)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if path:
        write(path)
    try:
        await stop.wait()
    finally:
        close()
        if path:
            remove(path)
