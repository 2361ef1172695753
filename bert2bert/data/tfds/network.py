"""A fast yes/no on the network before TFDS is allowed to download anything (plain Python)."""
import concurrent.futures
import socket
import urllib.parse
from typing import List, Sequence

PROBE_TIMEOUT_SECONDS = 3.0


def host_reachable(host: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """True when a TCP connection to `host`:443 opens within `timeout` seconds (DNS included).

    The lookup runs in a worker thread, so a resolver that hangs cannot stall the caller.
    """
    def connect():
        with socket.create_connection((host, 443), timeout=timeout):
            return True

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return bool(pool.submit(connect).result(timeout=timeout + 0.5))
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    finally:
        pool.shutdown(wait=False)


def hosts_of(urls: Sequence[str]) -> List[str]:
    """The distinct host names of `urls`, in order."""
    hosts = []
    for url in urls:
        host = urllib.parse.urlparse(url).hostname
        if host and host not in hosts:
            hosts.append(host)
    return hosts
