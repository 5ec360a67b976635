"""Loaded into multiprocess's fork server only (the lab preloads it there): when the fork
server ends because the process that started it is gone, remove that process's
multiprocess temp dir (``pymp-*``, which holds the fork server's socket).

A normal exit of the lab's process removes that dir itself. A SIGKILLed one cannot (nbval
and ``shutdown_kernel(now=True)`` end a kernel that way, after its labs closed), and no lab's
guardian is left to do it. The fork server is: it notices its parent is gone (its ``alive``
pipe reaches EOF) and exits normally, running ``atexit``. It removes the dir only once its
parent has really gone, i.e. it was re-parented (that follows the EOF within
milliseconds: the kernel closes a dying process's files before it re-parents its
children); a parent that merely stopped its fork server keeps using the dir.

Importing this module registers that one ``atexit`` function; nothing else imports it.
"""

import atexit
import os
import shutil
import time

_PARENT = os.getppid()
_ME = os.getpid()


@atexit.register
def _remove_parents_temp_dir():
    if os.getpid() != _ME:
        return  # a forked child (pods exit with os._exit anyway)
    deadline = time.monotonic() + 2.0
    while os.getppid() == _PARENT:
        if time.monotonic() > deadline:
            return  # the parent lives on
        time.sleep(0.01)
    from multiprocess import forkserver

    address = getattr(forkserver._forkserver, "_forkserver_address", None)
    folder = os.path.dirname(address) if isinstance(address, str) else ""
    if os.path.basename(folder).startswith("pymp-"):
        shutil.rmtree(folder, ignore_errors=True)
