"""Distinct pollers: an exact set of 64-bit hashes up to EXACT_LIMIT, then a HyperLogLog.

A sketch merges with another by union (exact) or by register maximum (HLL), so
each process can flush its own and the database keeps one per feed URL and
day. Sizes are fixed: at most EXACT_LIMIT * 8 bytes exact, REGISTERS bytes as
HLL (standard error about 1.04 / sqrt(REGISTERS), 1.6%).
"""

from __future__ import annotations

import math
import struct

EXACT_LIMIT = 1024
PRECISION = 12
REGISTERS = 1 << PRECISION
_EXACT, _HLL = b"E", b"H"
_MASK = (1 << 64) - 1


class Sketch:
    """Distinct 64-bit values: exact while few, estimated beyond."""

    __slots__ = ("exact", "registers")

    def __init__(self) -> None:
        self.exact: set[int] | None = set()
        self.registers: bytearray | None = None

    def add(self, value: int) -> None:
        if self.exact is not None:
            self.exact.add(value & _MASK)
            if len(self.exact) > EXACT_LIMIT:
                self._to_hll()
        else:
            self._add_hll(value & _MASK)

    def merge(self, other: Sketch) -> None:
        if other.exact is not None:
            for value in other.exact:
                self.add(value)
            return
        if self.exact is not None:
            self._to_hll()
        assert self.registers is not None and other.registers is not None
        self.registers[:] = bytes(map(max, self.registers, other.registers))

    def count(self) -> int:
        if self.exact is not None:
            return len(self.exact)
        assert self.registers is not None
        zeros = self.registers.count(0)
        if zeros:
            linear = REGISTERS * math.log(REGISTERS / zeros)
            if linear <= 2.5 * REGISTERS:
                return round(linear)
        alpha = 0.7213 / (1 + 1.079 / REGISTERS)
        harmonic = sum(2.0**-register for register in self.registers)
        return round(alpha * REGISTERS * REGISTERS / harmonic)

    def to_bytes(self) -> bytes:
        if self.exact is not None:
            values = sorted(self.exact)
            return _EXACT + struct.pack(f">{len(values)}Q", *values)
        assert self.registers is not None
        return _HLL + bytes(self.registers)

    @classmethod
    def from_bytes(cls, data: bytes) -> Sketch:
        """A stored sketch; anything unreadable counts as empty rather than failing a flush."""
        sketch = cls()
        kind, body = data[:1], data[1:]
        if kind == _EXACT and len(body) % 8 == 0:
            for value in struct.unpack(f">{len(body) // 8}Q", body):
                sketch.add(value)
        elif kind == _HLL and len(body) == REGISTERS:
            sketch.exact, sketch.registers = None, bytearray(body)
        return sketch

    def _to_hll(self) -> None:
        values, self.exact = self.exact or set(), None
        self.registers = bytearray(REGISTERS)
        for value in values:
            self._add_hll(value)

    def _add_hll(self, value: int) -> None:
        assert self.registers is not None
        index = value >> (64 - PRECISION)
        rest = (value << PRECISION) & _MASK
        rank = min(64 - rest.bit_length() + 1, 64 - PRECISION + 1)
        if rank > self.registers[index]:
            self.registers[index] = rank
