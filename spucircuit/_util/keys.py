"""Counter-based random keys: every random number of a device is a pure function of (seed, address).

Two addressings of one idea, as in JAX PRNG keys:

* :class:`DeviceKey` addresses draws by *name* (an element of a netlist: a resistor's fabrication
  error depends only on the device seed and the resistor's name, not on the order of elements or on
  how often the device was reprogrammed); the bits come from BLAKE2b of (seed, path, tag, name).
* :func:`counter_uniforms` / :func:`uniform_at` address draws by *position* in a large array (the
  factored circuit's m x N resistor arrays, where hashing a name per entry would dominate): the i-th
  output of a SplitMix64 stream started at a 64-bit key, callable from numba kernels.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from typing import Sequence

import numba as nb
import numpy as np
from scipy.special import ndtri

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@nb.njit(cache=True, inline="always")
def _mix64(z):
    """SplitMix64 finaliser (a bijection of uint64 with full avalanche)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(cache=True, inline="always")
def uniform_at(key, i):
    """Counter-based uniform in (0, 1) for position i under ``key``: the i-th output of a SplitMix64
    stream started at ``key`` (53 bits, + 1/2 so never 0 or 1)."""
    z = _mix64(key + (np.uint64(i) + np.uint64(1)) * _GOLDEN)
    return ((z >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@nb.njit(cache=True)
def counter_uniforms(key, n):
    """The uniforms of positions 0..n-1 under ``key`` (what the quantisation kernel draws)."""
    out = np.empty(n)
    k = np.uint64(key)
    for i in range(n):
        out[i] = uniform_at(k, i)
    return out




def stream_key(rng) -> np.uint64:
    """A uint64 stream key from a numpy Generator, a SeedSequence, an int or None."""
    if isinstance(rng, np.random.Generator):
        return np.uint64(rng.integers(0, 2**63, dtype=np.int64))
    ss = rng if isinstance(rng, np.random.SeedSequence) else np.random.SeedSequence(rng)
    return np.uint64(ss.generate_state(1, np.uint64)[0])




# =====================================================================================  keys
def _entropy(seed) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, np.random.SeedSequence):
        ent = seed.entropy if isinstance(seed.entropy, int) else int(np.asarray(seed.entropy).sum())
        return int(ent) * 1_000_003 + hash(tuple(seed.spawn_key)) % 1_000_003
    return int(seed)


def _hash64(prefix: str, names: Sequence[str]) -> np.ndarray:
    """(m, 2) uint64: blake2b of prefix + lower-case name (a counter-based random stream)."""
    pre = prefix.encode()
    buf = b"".join(hashlib.blake2b(pre + str(nm).lower().encode(), digest_size=16).digest() for nm in names)
    return np.frombuffer(buf, dtype="<u8").reshape(len(names), 2) if names else np.zeros((0, 2), np.uint64)


def _u01(h: np.ndarray) -> np.ndarray:
    """uint64 -> uniform in (0, 1), 53 bits."""
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


@dataclass(frozen=True)
class DeviceKey:
    """Counter-based random key of one device (member ``member`` of an ensemble of ``members``).

    Two kinds of randomness exist, and they behave differently in ensembles:

    * *fabrication* (tolerance, offsets, op-amp spread): fixed per physical device, identified by
      ``fab_member`` (default: ``member``, i.e. K separate devices; give 0 to every member to model
      one device reprogrammed K times). Never coordinated across devices: nature chooses it.
    * *rounding* (stochastic bank and DAC rounding): chosen by the controller when programming.
      Independent per member, or -- with ``stratify`` -- stratified across the K members: for each
      component the K uniforms are (pi(k) + U) / K with a random permutation pi and U ~ U(0,1), so
      each member is marginally an unbiased stochastic rounding while the K roundings of every
      component average to within one level step / K of the target.
    """

    seed: int
    path: tuple = ()
    member: int = 0
    members: int = 1
    stratify: bool = False
    fab_member: int | None = None

    @staticmethod
    def make(seed=None, **kw) -> "DeviceKey":
        return DeviceKey(_entropy(seed), **kw)

    def fold(self, i) -> "DeviceKey":
        return replace(self, path=self.path + (int(i),))

    def _prefix(self, tag: str, who: str) -> str:
        return f"{self.seed}|{'.'.join(map(str, self.path))}|{tag}|{who}|"

    def fabrication_uniform(self, names, tag: str) -> np.ndarray:
        fab = self.member if self.fab_member is None else self.fab_member
        return _u01(_hash64(self._prefix(tag, f"fab{fab}"), names)[:, 0])

    def fabrication_normal(self, names, tag: str) -> np.ndarray:
        return ndtri(self.fabrication_uniform(names, tag))

    def stream_seed(self, tag: str, kind: str) -> int:
        """A 63-bit integer seeding a *positional* stream (the draws of a whole array) for ``tag``:
        ``kind`` 'fab' (fixed per physical device, as the fabrication draws) or 'rnd' (this member's
        controller rounding; not stratified across an ensemble)."""
        fab = self.member if self.fab_member is None else self.fab_member
        who = f"fab{fab}" if kind == "fab" else f"rnd{self.member}"
        return int(_hash64(self._prefix(tag, who), ["array"])[0, 0] >> np.uint64(1))

    def rounding_uniform(self, names, tag: str) -> np.ndarray:
        K = int(self.members)
        if not (self.stratify and K > 1):
            return _u01(_hash64(self._prefix(tag, f"rnd{self.member}"), names)[:, 0])
        h = _hash64(self._prefix(tag, "joint"), names)
        U = _u01(h[:, 0])
        units = np.array([a for a in range(1, K) if math.gcd(a, K) == 1] or [1], dtype=np.uint64)
        a = units[(h[:, 1] % np.uint64(len(units))).astype(np.int64)]
        c = (h[:, 1] >> np.uint64(32)) % np.uint64(K)
        rank = (a * np.uint64(self.member % K) + c) % np.uint64(K)  # a permutation of 0..K-1
        return (rank.astype(np.float64) + U) / K
