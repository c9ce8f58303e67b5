"""Several hosts on this machine, for tests of TaskFlow across a network: each host a network
namespace of its own (`ip netns`) with one address on a private /24, all joined by a bridge in a
namespace of their own, and the test process (the machine's own namespace) on that bridge too, so
that it reaches every host as a client would.

Needs root and iproute2. Everything is named after a random tag: the namespaces `tf<tag>-<host>`
and the machine-side interface `tf<tag>`, so that runs side by side never meet. A host starts its
programs with `ip netns exec` (which becomes the program: the pid is the program's own) and stops
only those; `Network.destroy()` stops every one of them and removes what `create()` made.
"""

import ipaddress
import os
import secrets
import signal
import subprocess
from contextlib import suppress
from pathlib import Path


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _free_subnet() -> ipaddress.IPv4Network:
    """A 10.x.y.0/24 that no route of this machine overlaps."""
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True).stdout
    taken = []
    for line in routes.splitlines():
        with suppress(ValueError):
            taken.append(ipaddress.ip_network(line.split()[0], strict=False))
    while True:
        subnet = ipaddress.ip_network(f"10.{secrets.randbelow(200) + 20}.{secrets.randbelow(256)}.0/24")
        if not any(subnet.overlaps(route) for route in taken if route.prefixlen > 0):
            return subnet


class Host:
    """One host: a namespace with an address, and the programs started in it."""

    def __init__(self, network: "Network", name: str, number: int) -> None:
        self.name = name
        self.namespace = f"tf{network.tag}-{name}"
        self.address = str(network.subnet[number])
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = network.directory / name
        self.logs.mkdir(parents=True, exist_ok=True)

    def start(self, program: str, command: list[str], *, env: dict | None = None, cwd: Path | None = None):
        """Run `command` on this host as `program`, its output in `<logs>/<program>.log`."""
        with (self.logs / f"{program}.log").open("wb") as log:
            self.processes[program] = subprocess.Popen(
                ["ip", "netns", "exec", self.namespace, *command],
                env=env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.processes[program]

    def running(self, program: str) -> bool:
        return program in self.processes and self.processes[program].poll() is None

    def log(self, program: str) -> str:
        path = self.logs / f"{program}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, program: str, *, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the program (and only it), wait for it, kill it if it is still there; its exit code."""
        process = self.processes.pop(program)
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                # The program and whatever it started (its session), nothing else.
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return process.returncode

    def stop_all(self) -> None:
        for program in reversed(list(self.processes)):
            self.stop(program, timeout=10)


class Network:
    """A bridge, the hosts on it, and the machine's own interface on it (the subnet's first address)."""

    def __init__(self, directory: Path) -> None:
        self.tag = secrets.token_hex(3)
        self.subnet = _free_subnet()
        self.directory = directory
        self.switch = f"tf{self.tag}-sw"
        self.uplink = f"tf{self.tag}"
        self.hosts: list[Host] = []
        self.address = str(self.subnet[1])

    def create(self) -> None:
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        ip("link", "add", self.uplink, "type", "veth", "peer", "name", "uplink", "netns", self.switch)
        ip("-n", self.switch, "link", "set", "uplink", "master", "br0", "up")
        ip("addr", "add", f"{self.address}/{self.subnet.prefixlen}", "dev", self.uplink)
        ip("link", "set", self.uplink, "up")

    def host(self, name: str) -> Host:
        """A new host on the bridge, at the next address (.10, .11, ...)."""
        host = Host(self, name, 10 + len(self.hosts))
        ip("netns", "add", host.namespace)
        ip("-n", host.namespace, "link", "set", "lo", "up")
        port = f"p{len(self.hosts)}"
        ip("-n", host.namespace, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", self.switch)
        ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        ip("-n", host.namespace, "addr", "add", f"{host.address}/{self.subnet.prefixlen}", "dev", "eth0")
        ip("-n", host.namespace, "link", "set", "eth0", "up")
        self.hosts.append(host)
        return host

    def destroy(self) -> None:
        """Stop every program a host started (last host first: the clients of a service before it),
        then remove the hosts, the bridge and the uplink."""
        for host in reversed(self.hosts):
            host.stop_all()
        for namespace in [host.namespace for host in self.hosts] + [self.switch]:
            with suppress(subprocess.CalledProcessError):
                ip("netns", "del", namespace)
        with suppress(subprocess.CalledProcessError):
            ip("link", "del", self.uplink)
