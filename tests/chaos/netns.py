"""A small private network for one test: a bridge, one network namespace per node, a veth pair from
each namespace into the bridge, and a real way to cut links.

- Every name carries a random suffix, and the /24 is picked per run among the 10.0.0.0/8 ranges no
  interface or route of this machine uses, so parallel test processes never collide.
- The host gets ``.254`` on the bridge: the test process reaches every node there; node *i* gets
  ``.(i+1)``. Traffic goes only to these addresses.
- Cuts are real: ``block(a, b)`` adds ``blackhole <b>/32`` in *a*'s namespace (a can no longer send to
  b: one direction, an asymmetric partition; TCP breaks both ways, but the two ends see different
  failures), ``isolate(i)`` takes the host end of *i*'s veth down (no packet in or out, test process
  included).
- ``close()`` removes everything that was created, in reverse order, whatever failed before; it
  never raises. Processes inside the namespaces must be stopped first (``NetnsCluster.close``).

Needs root and iproute2 (``tests.needs.NETNS`` says why not, when they are missing).
"""

from __future__ import annotations

import ipaddress
import random
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.harness import NodeProcess, ProcessCluster

PORT = 7400  # every node listens on this port, each on its own address


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def _used_networks() -> list[ipaddress.IPv4Network]:
    nets = []
    for args in (("-4", "-o", "addr", "show"), ("-4", "route", "show", "table", "all")):
        for line in _ip(*args, check=False).stdout.splitlines():
            for word in line.split():
                try:
                    if "/" in word or word[:1].isdigit():
                        nets.append(ipaddress.ip_network(word, strict=False))
                except ValueError:
                    continue
    return nets


def _free_subnet(rng: random.Random) -> ipaddress.IPv4Network:
    used = _used_networks()
    for _ in range(200):
        net = ipaddress.ip_network(f"10.{rng.randrange(64, 250)}.{rng.randrange(0, 256)}.0/24")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return net
    raise RuntimeError("no free 10.x.y.0/24 for the test network")


@dataclass
class Network:
    size: int
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: ipaddress.IPv4Network | None = None
    blocked: set[tuple[int, int]] = field(default_factory=set)
    down: set[int] = field(default_factory=set)
    _undo: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.subnet is None:
            self.subnet = _free_subnet(random.Random(self.suffix))
        hosts = list(self.subnet.hosts())
        self.host_address = str(hosts[-1])  # .254
        self.addresses = [str(hosts[i]) for i in range(self.size)]
        self.bridge = f"tnb{self.suffix}"
        self.namespaces = [f"tn{self.suffix}n{i}" for i in range(self.size)]
        self.host_ends = [f"tn{self.suffix}h{i}" for i in range(self.size)]

    # ---------------------------------------------------------------------------------- set up

    def create(self) -> Network:
        """Build the bridge, the namespaces and the links. On any failure, undo what was made."""
        try:
            prefix = self.subnet.prefixlen
            _ip("link", "add", self.bridge, "type", "bridge")
            self._undo.append(["link", "del", self.bridge])
            # Bridged frames need not go through the host's iptables (a FORWARD policy of DROP would
            # otherwise cut the nodes off from each other); older kernels lack the option.
            _ip("link", "set", self.bridge, "type", "bridge", "nf_call_iptables", "0", check=False)
            _ip("addr", "add", f"{self.host_address}/{prefix}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for i in range(self.size):
                ns, host_end, inner = self.namespaces[i], self.host_ends[i], f"tn{self.suffix}p{i}"
                _ip("netns", "add", ns)
                self._undo.append(["netns", "del", ns])
                _ip("link", "add", host_end, "type", "veth", "peer", "name", inner, "netns", ns)
                self._undo.append(["link", "del", host_end])
                _ip("link", "set", host_end, "master", self.bridge, "up")
                _ip("-n", ns, "addr", "add", f"{self.addresses[i]}/{prefix}", "dev", inner)
                _ip("-n", ns, "link", "set", inner, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> list[str]:
        """Remove everything this network made (namespaces, links, bridge); returns what could not be
        removed (empty when all is gone)."""
        problems = []
        for args in reversed(self._undo):
            done = _ip(*args, check=False)
            gone = "Cannot find" in done.stderr or "No such" in done.stderr or "not exist" in done.stderr
            if done.returncode != 0 and not gone:
                problems.append(f"ip {' '.join(args)}: {done.stderr.strip()}")
        self._undo.clear()
        return problems

    def leftovers(self) -> list[str]:
        """Names of this network still present on the machine (for the teardown's own check)."""
        names = _ip("-o", "link", "show", check=False).stdout + _ip("netns", "list", check=False).stdout
        return sorted({word.split("@")[0].rstrip(":") for word in names.split() if self.suffix in word})

    # ----------------------------------------------------------------------------------- faults

    def block(self, src: int, dst: int) -> None:
        """``src`` can no longer send anything to ``dst`` (one direction)."""
        if (src, dst) not in self.blocked:
            _ip("-n", self.namespaces[src], "route", "add", "blackhole", f"{self.addresses[dst]}/32")
            self.blocked.add((src, dst))

    def unblock(self, src: int, dst: int) -> None:
        if (src, dst) in self.blocked:
            _ip("-n", self.namespaces[src], "route", "del", "blackhole", f"{self.addresses[dst]}/32")
            self.blocked.discard((src, dst))

    def partition(self, *groups: list[int]) -> None:
        """Cut every link between nodes of different groups, both ways (the host still reaches all)."""
        side = {i: n for n, group in enumerate(groups) for i in group}
        for a in range(self.size):
            for b in range(self.size):
                if a != b and side.get(a, -1) != side.get(b, -2):
                    self.block(a, b)

    def isolate(self, i: int) -> None:
        """Take node ``i``'s link down: nothing reaches it, not even the test process."""
        _ip("link", "set", self.host_ends[i], "down")
        self.down.add(i)

    def reconnect(self, i: int) -> None:
        _ip("link", "set", self.host_ends[i], "up")
        self.down.discard(i)

    def heal(self) -> None:
        for src, dst in sorted(self.blocked):
            self.unblock(src, dst)
        for i in sorted(self.down):
            self.reconnect(i)

    def run_in(self, i: int, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a command inside node ``i``'s namespace (it reaches its own node even when isolated)."""
        return subprocess.run(
            ["ip", "netns", "exec", self.namespaces[i], *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


class NetnsCluster(ProcessCluster):
    """A ProcessCluster whose node *i* runs inside namespace *i* of ``network``, on its own address and
    the shared port ``PORT``: member ids are then ``<address>:<port>``. The first member is the
    preferred leader (equal ports: list order decides)."""

    def __init__(self, root: Path, network: Network, **kwargs):
        self.network = network
        super().__init__(root, network.size, **kwargs)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        urls = [f"http://{address}:{PORT}" for address in self.network.addresses]
        for i, address in enumerate(self.network.addresses):
            name = f"n{i}-{address.replace('.', '-')}"
            config = self.root / f"{name}.toml"
            config.write_text(
                self._config_text(PORT, urls, host=address, data_dir=self.root / f"data-{name}")
            )
            node = NodeProcess(i, PORT, config, self.root / f"{name}.log", host=address)
            node.member_id = f"{address}:{PORT}"
            self.nodes.append(node)

    def command(self, node: NodeProcess) -> list[str]:
        # ip netns exec execs the command: the PID Popen reports is the node's own.
        return ["ip", "netns", "exec", self.network.namespaces[node.index], *super().command(node)]
