"""The test tools' pid files (--pidfile): a test waits for the file, so
it appears whole (written beside it, then renamed) once the tool is
ready, and goes when the tool stops."""
import os


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
