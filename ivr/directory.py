"""The customer directory: who a caller number belongs to (brand, VIP level, city, name).

An interface (`Directory`) with an embedded default read from a CSV file under `config/`
(columns: number, name, brand, vip, city, and any more, which become extra fields of the
screen pop's customer record). Lookups are in memory: the IVR asks on every call.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from acd.model import EMPTY_MAP


@dataclass(frozen=True, slots=True)
class Customer:
    """One directory record."""

    number: str
    name: str = ""
    brand: str = ""
    vip: int = 0
    city: str = ""
    extra: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAP)

    def record(self) -> dict[str, str | int]:
        """The record as the screen pop shows it."""
        out: dict[str, str | int] = {
            "number": self.number,
            "name": self.name,
            "brand": self.brand,
            "vip": self.vip,
            "city": self.city,
        }
        out.update(self.extra)
        return out


class Directory(Protocol):
    """Finds customers by caller number."""

    def lookup(self, number: str) -> Customer | None:
        """The customer owning `number`, or None."""


class EmptyDirectory:
    """No customers (a center without a directory)."""

    def lookup(self, number: str) -> Customer | None:
        """Always None."""
        return None

    def __len__(self) -> int:
        return 0


REQUIRED = ("number", "brand")


class CsvDirectory:
    """Customers from a CSV file, held in a dict."""

    def __init__(self, customers: Mapping[str, Customer]) -> None:
        self.customers = dict(customers)

    def __len__(self) -> int:
        return len(self.customers)

    def lookup(self, number: str) -> Customer | None:
        """The customer owning `number`, or None."""
        return self.customers.get(number)

    @classmethod
    def load(cls, path: Path) -> CsvDirectory:
        """Read the file; ValueError names the line of a bad row."""
        customers: dict[str, Customer] = {}
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            missing = [c for c in REQUIRED if c not in fields]
            if missing:
                raise ValueError(f"missing column(s) {', '.join(missing)}")
            for row in reader:
                line = reader.line_num
                number = (row.get("number") or "").strip()
                if not number:
                    raise ValueError(f"line {line}: empty number")
                vip_text = (row.get("vip") or "0").strip() or "0"
                if not vip_text.isdigit():
                    raise ValueError(f"line {line}: vip must be a whole number, not {vip_text!r}")
                extra = {
                    k: v
                    for k, v in row.items()
                    if k not in ("number", "name", "brand", "vip", "city") and k and v
                }
                customers[number] = Customer(
                    number=number,
                    name=(row.get("name") or "").strip(),
                    brand=(row.get("brand") or "").strip(),
                    vip=int(vip_text),
                    city=(row.get("city") or "").strip(),
                    extra=extra,
                )
        return cls(customers)
