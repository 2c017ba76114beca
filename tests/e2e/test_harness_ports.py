"""The harness's ports: servers configured in one run never share a port (bench/auth once
stopped with "Cannot define multiple Listeners on the same IP:port")."""
import socket

from cmi_e2e.ports import free_port, free_ports


def test_ports_handed_out_in_one_run_are_distinct():
    # Plain bind-to-0 look-ups repeat a port within a few hundred calls on Linux
    # (a 28k ephemeral range: about 70 repeats expected in 2000 look-ups).
    ports = [p for _ in range(500) for p in free_ports(3)] + [free_port() for _ in range(500)]
    assert len(ports) == 2000
    assert len(set(ports)) == len(ports)


def test_ports_are_free_to_bind():
    held = []
    try:
        for port in free_ports(4):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind(("127.0.0.1", port))
    finally:
        for s in held:
            s.close()
