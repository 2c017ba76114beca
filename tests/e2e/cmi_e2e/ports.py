"""Free 127.0.0.1 TCP ports for servers the tests and benches start.

A port found free is free only until someone binds it: two look-ups in a row may give
the same port back ("Cannot define multiple Listeners on the same IP:port" when httpd
gets it twice). free_ports(n) keeps every socket bound until all n are chosen, and no
port is handed out twice in one process (a server configured earlier may not listen yet).
"""
import socket

_handed_out: set[int] = set()


def free_ports(n: int) -> list[int]:
    """n distinct ports, none handed out before by this process."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)  # bound until all are chosen: the kernel cannot give it again
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port not in _handed_out:
                ports.append(port)
    finally:
        for s in held:
            s.close()
    _handed_out.update(ports)
    return ports


def free_port() -> int:
    return free_ports(1)[0]
