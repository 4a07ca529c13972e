"""Reading configuration data: merged TOML files, typed getters, every problem collected.

The toolkit behind `acd.config`, meant to be reused by every part that owns a configuration
section (IVR flows, server limits, supervisors...):

- `read_tree(path, problems)` reads a TOML file and the files it `include`s into one `Table`,
  remembering for every key the file it came from, and a digest of the bytes read.
- `Reader` wraps a `Table` and hands out typed, range-checked values. It never raises: a bad
  value is recorded in `Problems` (with file and key path) and a default comes back, so one
  pass reports every mistake. `Reader.finish()` reports the keys nobody asked for, with a
  "did you mean" suggestion.
- `Refs` collects references (to groups, calendars, prompts...) while reading, to be checked
  once everything they may point to is known.

Problems read `FILE: KEY.PATH: what is wrong`, one per line.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import math
import os
import re
import tomllib
import zoneinfo
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple, TypeVar, overload

E = TypeVar("E", bound=Enum)
T = TypeVar("T")

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_MISSING: Any = object()


# ---------------------------------------------------------------------------- locations


def key_path(parent: str, key: str | int) -> str:
    """`parent.key` (TOML-quoted when needed) or `parent[index]`."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    part = key if _BARE_KEY.fullmatch(key) else '"' + key.replace('"', '\\"') + '"'
    return f"{parent}.{part}" if parent else part


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a value sits: the file it came from and its key path."""

    file: str
    path: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.path}" if self.path else self.file


class Located(NamedTuple):
    """A value with its location (list items, map entries)."""

    value: Any
    loc: Loc


@dataclass(slots=True)
class Problems:
    """Errors and warnings found so far, each one formatted line."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, loc: Loc, message: str) -> None:
        """Record an error: the configuration will not load."""
        self.errors.append(f"{loc}: {message}")

    def warning(self, loc: Loc, message: str) -> None:
        """Record a warning: the configuration loads, but an operator should look."""
        self.warnings.append(f"{loc}: {message}")


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def type_name(value: Any) -> str:
    """The TOML name of a value's type, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Table | dict):
        return "a table"
    if isinstance(value, Array | list):
        return "an array"
    if isinstance(value, dt.datetime):
        return "a date-time"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, dt.time):
        return "a time"
    return type(value).__name__


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    if isinstance(value, Table | Array | dict | list):
        return type_name(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


# ---------------------------------------------------------------------------- merged data


class Table(Mapping[str, Any]):
    """A TOML table merged from one or more files; knows which file each key came from."""

    __slots__ = ("_data", "_files", "file", "path")

    def __init__(self, path: str, file: str) -> None:
        self.path = path
        self.file = file  # the file that defined the table first
        self._data: dict[str, Any] = {}
        self._files: dict[str, str] = {}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Table({self.path!r}, {self.plain()!r})"

    def loc(self, key: str | None = None) -> Loc:
        """Location of a key (or of the table itself)."""
        if key is None:
            return Loc(self.file, self.path)
        return Loc(self._files.get(key, self.file), key_path(self.path, key))

    def file_of(self, key: str) -> str:
        """The file a key was defined in."""
        return self._files.get(key, self.file)

    def plain(self) -> dict[str, Any]:
        """The data as plain dicts and lists."""
        return {k: _plain(v) for k, v in self._data.items()}


class Array(Sequence[Any]):
    """A TOML array, possibly concatenated from several files; knows each item's file."""

    __slots__ = ("_files", "_items", "file", "path")

    def __init__(self, path: str, file: str) -> None:
        self.path = path
        self.file = file
        self._items: list[Any] = []
        self._files: list[str] = []

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Array({self.path!r}, {self.plain()!r})"

    def loc(self, index: int | None = None) -> Loc:
        """Location of an item (or of the array itself)."""
        if index is None:
            return Loc(self.file, self.path)
        return Loc(self._files[index], key_path(self.path, index))

    def plain(self) -> list[Any]:
        """The data as plain dicts and lists."""
        return [_plain(v) for v in self._items]


def _plain(value: Any) -> Any:
    return value.plain() if isinstance(value, Table | Array) else value


def _wrap(value: Any, path: str, file: str) -> Any:
    if isinstance(value, dict):
        t = Table(path, file)
        for k, v in value.items():
            t._data[k] = _wrap(v, key_path(path, k), file)
            t._files[k] = file
        return t
    if isinstance(value, list):
        a = Array(path, file)
        _extend(a, value, file)
        return a
    return value


def _extend(a: Array, items: list[Any], file: str) -> None:
    for item in items:
        a._items.append(_wrap(item, key_path(a.path, len(a._items)), file))
        a._files.append(file)


def merge(target: Table, doc: Mapping[str, Any], file: str, problems: Problems) -> None:
    """Merge a parsed document into `target`: tables key by key, arrays concatenated.

    A key defined in two files is an error naming both; the first definition is kept.
    """
    for key, value in doc.items():
        if key not in target._data:
            target._data[key] = _wrap(value, key_path(target.path, key), file)
            target._files[key] = file
            continue
        old = target._data[key]
        if isinstance(old, Table) and isinstance(value, dict):
            merge(old, value, file, problems)
        elif isinstance(old, Array) and isinstance(value, list):
            _extend(old, value, file)
        else:
            problems.error(
                Loc(file, key_path(target.path, key)),
                f"already defined in {target.file_of(key)}",
            )


# ---------------------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class Tree:
    """Configuration files merged into one table."""

    root: Table
    files: tuple[str, ...]  # every file read, in reading order (the main file first)
    version: str  # sha256 hex of the bytes of those files, in that order


def read_tree(path: str | os.PathLike[str], problems: Problems) -> Tree | None:
    """Read a TOML file and, depth first, the files listed in its top-level `include`.

    Include paths are relative to the including file. The including file's own keys are
    merged first, then each included file in order. Returns None when a file cannot be read
    or parsed (those problems are recorded; the rest would only be noise).
    """
    main = os.fspath(path)
    root = Table("", main)
    files: list[str] = []
    digest = hashlib.sha256()
    seen: dict[str, str] = {}  # real path -> file name as shown
    ok = True

    def visit(name: str, included_at: Loc | None) -> None:
        nonlocal ok
        real = os.path.realpath(name)
        if real in seen:
            assert included_at is not None
            problems.error(included_at, f"'{name}' is already included (as {seen[real]})")
            return
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError as err:
            reason = err.strerror or str(err)
            if included_at is None:
                problems.error(Loc(name), f"cannot read the file: {reason}")
            else:
                problems.error(included_at, f"cannot read '{name}': {reason}")
            ok = False
            return
        seen[real] = name
        files.append(name)
        digest.update(data)
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except UnicodeDecodeError as err:
            problems.error(Loc(name), f"not UTF-8 text: {err.reason} at byte {err.start}")
            ok = False
            return
        except tomllib.TOMLDecodeError as err:
            problems.error(Loc(name), f"invalid TOML: {err}")
            ok = False
            return
        includes = doc.pop("include", [])
        merge(root, doc, name, problems)
        if isinstance(includes, str):
            includes = [includes]
        if not isinstance(includes, list):
            problems.error(Loc(name, "include"), "must be an array of file names")
            return
        base = os.path.dirname(name)
        for i, inc in enumerate(includes):
            at = Loc(name, key_path("include", i))
            if not isinstance(inc, str) or not inc:
                problems.error(at, f"must be a file name, not {type_name(inc)}")
                continue
            visit(os.path.normpath(os.path.join(base, inc)), at)

    visit(main, None)
    if not ok:
        return None
    return Tree(root, tuple(files), digest.hexdigest())


# ---------------------------------------------------------------------------- references


@dataclass(slots=True)
class Refs:
    """References to named things, checked once all names are known."""

    wanted: dict[str, list[Located]] = field(default_factory=dict)

    def need(self, kind: str, name: str, loc: Loc) -> None:
        """Remember that `loc` refers to the `kind` called `name`."""
        self.wanted.setdefault(kind, []).append(Located(name, loc))

    def check(self, kind: str, known: Collection[str], problems: Problems) -> None:
        """Report every reference of `kind` to a name not in `known`."""
        for name, loc in self.wanted.get(kind, []):
            if name not in known:
                problems.error(loc, f"unknown {kind} '{name}'{suggest(name, known)}")


# ---------------------------------------------------------------------------- typed reading


class Reader:
    """Typed access to one table. Bad values are recorded and replaced by the default.

    Every key asked for counts as known; `finish()` reports the others as unknown (for this
    reader and every reader derived from it).
    """

    __slots__ = ("_asked", "_children", "problems", "table")

    def __init__(self, table: Table, problems: Problems) -> None:
        self.table = table
        self.problems = problems
        self._asked: set[str] = set()
        self._children: list[Reader] = []

    # -- locations and problems --------------------------------------------------------

    @property
    def path(self) -> str:
        """Key path of the table."""
        return self.table.path

    def loc(self, key: str | None = None) -> Loc:
        """Location of a key of this table (or of the table)."""
        return self.table.loc(key)

    def error(self, key: str | None, message: str) -> None:
        """Record an error about a key of this table (None: the table itself)."""
        self.problems.error(self.loc(key), message)

    def warning(self, key: str | None, message: str) -> None:
        """Record a warning about a key of this table (None: the table itself)."""
        self.problems.warning(self.loc(key), message)

    def allow(self, *keys: str) -> None:
        """Declare keys as known without reading them."""
        self._asked.update(keys)

    def has(self, key: str) -> bool:
        """Whether the key is present (it also becomes known)."""
        self._asked.add(key)
        return key in self.table

    def raw(self, key: str, default: Any = None) -> Any:
        """The value as stored (Table, Array or a scalar), unchecked."""
        self._asked.add(key)
        return self.table.get(key, default)

    def names(self) -> list[str]:
        """Every key of the table, in order; all become known (free-form maps)."""
        self._asked.update(self.table)
        return list(self.table)

    def finish(self) -> None:
        """Report unknown keys here and in every derived reader."""
        for key in self.table:
            if key not in self._asked:
                self.error(key, f"unknown key '{key}'{suggest(key, self._asked)}")
        for child in self._children:
            child.finish()

    def _get(self, key: str, required: bool) -> Any:
        self._asked.add(key)
        if key in self.table:
            return self.table[key]
        if required:
            self.error(None, f"missing '{key}'")
        return _MISSING

    def _wrong(self, key: str, what: str, value: Any) -> None:
        self.error(key, f"must be {what}, not {type_name(value)} ({_show(value)})")

    # -- scalars -----------------------------------------------------------------------
    # Each `_x` returns None when the key is absent or invalid (the problem is recorded).

    def _text(self, key: str, required: bool, nonempty: bool) -> str | None:
        v = self._get(key, required)
        if v is _MISSING:
            return None
        if not isinstance(v, str):
            self._wrong(key, "a string", v)
            return None
        if nonempty and not v.strip():
            self.error(key, "must not be empty")
            return None
        return v

    def text(
        self, key: str, default: str = "", *, required: bool = False, nonempty: bool = False
    ) -> str:
        """A string."""
        v = self._text(key, required, nonempty)
        return default if v is None else v

    def opt_text(self, key: str, *, nonempty: bool = True) -> str | None:
        """A string, or None when absent (or invalid)."""
        return self._text(key, False, nonempty)

    def flag(self, key: str, default: bool = False) -> bool:
        """A boolean."""
        v = self._get(key, False)
        if v is _MISSING:
            return default
        if not isinstance(v, bool):
            self._wrong(key, "true or false", v)
            return default
        return v

    def _integer(self, key: str, lo: int | None, hi: int | None, required: bool) -> int | None:
        v = self._get(key, required)
        if v is _MISSING:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            self._wrong(key, "an integer", v)
            return None
        if not _in_range(v, lo, hi, False):
            self.error(key, f"{_range_text(lo, hi, False)} (got {v})")
            return None
        return v

    def integer(
        self,
        key: str,
        default: int = 0,
        *,
        lo: int | None = None,
        hi: int | None = None,
        required: bool = False,
    ) -> int:
        """An integer in [lo, hi]."""
        v = self._integer(key, lo, hi, required)
        return default if v is None else v

    def opt_integer(self, key: str, *, lo: int | None = None, hi: int | None = None) -> int | None:
        """An integer in [lo, hi], or None when absent (or invalid)."""
        return self._integer(key, lo, hi, False)

    def _number(
        self,
        key: str,
        lo: float | None,
        hi: float | None,
        lo_open: bool,
        allow_inf: bool,
        required: bool,
    ) -> float | None:
        v = self._get(key, required)
        if v is _MISSING:
            return None
        if allow_inf and isinstance(v, str) and v.strip().lower() in ("inf", "+inf"):
            return math.inf
        if isinstance(v, bool) or not isinstance(v, int | float):
            self._wrong(key, 'a number or "inf"' if allow_inf else "a number", v)
            return None
        x = float(v)
        if math.isnan(x) or (math.isinf(x) and not (allow_inf and x > 0)):
            self.error(key, f"must be a finite number (got {v})")
            return None
        if not _in_range(x, lo, hi, lo_open):
            self.error(key, f"{_range_text(lo, hi, lo_open)} (got {_num(x)})")
            return None
        return x

    def number(
        self,
        key: str,
        default: float = 0.0,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        allow_inf: bool = False,
        required: bool = False,
    ) -> float:
        """A number (integer or float) in [lo, hi], or (lo, hi] with `lo_open`.

        With `allow_inf`, the string "inf" (or TOML's inf) means unbounded.
        """
        v = self._number(key, lo, hi, lo_open, allow_inf, required)
        return default if v is None else v

    def opt_number(
        self,
        key: str,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
    ) -> float | None:
        """A number in range, or None when absent (or invalid)."""
        return self._number(key, lo, hi, lo_open, False, False)

    def choice(self, key: str, enum: type[E], default: E, *, required: bool = False) -> E:
        """One of an enum's values (given as its string value)."""
        v = self._get(key, required)
        if v is _MISSING:
            return default
        values = [str(m.value) for m in enum]
        if not isinstance(v, str):
            self._wrong(key, "one of " + ", ".join(f'"{x}"' for x in values), v)
            return default
        try:
            return enum(v)
        except ValueError:
            self.error(key, f"'{v}' is not one of {', '.join(values)}{suggest(v, values)}")
            return default

    def one_of(self, key: str, values: Sequence[T], default: T) -> T:
        """One of a few allowed values (e.g. 15, 30 or 60)."""
        v = self._get(key, False)
        if v is _MISSING:
            return default
        for allowed in values:
            if v == allowed and type(v) is type(allowed):
                return allowed
        self.error(key, f"must be one of {', '.join(_show(x) for x in values)} (got {_show(v)})")
        return default

    # -- containers --------------------------------------------------------------------

    def table_at(self, key: str, *, required: bool = False) -> Reader | None:
        """A sub-table as a reader, or None when absent (or not a table)."""
        v = self._get(key, required)
        if v is _MISSING:
            return None
        if not isinstance(v, Table):
            self._wrong(key, "a table", v)
            return None
        return self.child(v)

    def child(self, table: Table) -> Reader:
        """A reader for a table found in this one; `finish()` reaches it."""
        r = Reader(table, self.problems)
        self._children.append(r)
        return r

    def tables(self) -> Iterator[tuple[str, Reader]]:
        """Every key of this table as a named sub-table (`[groups.<id>]`)."""
        for key in self.names():
            v = self.table[key]
            if isinstance(v, Table):
                yield key, self.child(v)
            else:
                self._wrong(key, "a table", v)

    def entries(self) -> Iterator[tuple[str, Any, Loc]]:
        """Every key, value and location of a free-form map (all keys become known)."""
        for key in self.names():
            yield key, self.table[key], self.loc(key)

    def array(self, key: str, *, required: bool = False) -> list[Located] | None:
        """The items of an array with their locations, or None when absent (or not one)."""
        v = self._get(key, required)
        if v is _MISSING:
            return None
        if not isinstance(v, Array):
            self._wrong(key, "an array", v)
            return None
        return [Located(item, v.loc(i)) for i, item in enumerate(v)]

    def text_list(
        self, key: str, *, required: bool = False, unique: bool = True
    ) -> list[Located] | None:
        """An array of non-empty strings (duplicates are errors when `unique`)."""
        items = self.array(key, required=required)
        if items is None:
            return None
        out: list[Located] = []
        seen: set[str] = set()
        for value, loc in items:
            if not isinstance(value, str) or not value:
                what = type_name(value) if not isinstance(value, str) else "an empty string"
                self.problems.error(loc, f"must be a non-empty string, not {what}")
            elif unique and value in seen:
                self.problems.error(loc, f"'{value}' is listed twice")
            else:
                seen.add(value)
                out.append(Located(value, loc))
        return out

    def tables_in(self, key: str) -> list[tuple[int, Reader]]:
        """An array of tables (`[[key]]`) as (index, reader) pairs."""
        items = self.array(key)
        if items is None:
            return []
        out = []
        for i, (value, loc) in enumerate(items):
            if isinstance(value, Table):
                out.append((i, self.child(value)))
            else:
                self.problems.error(loc, f"must be a table, not {type_name(value)}")
        return out

    # -- domain helpers shared by every section ----------------------------------------

    def timezone(self, key: str, default: dt.tzinfo) -> dt.tzinfo:
        """An IANA zone name ("Asia/Shanghai") or a fixed offset ("+08:00")."""
        v = self._text(key, False, True)
        if v is None:
            return default
        tz, message = parse_timezone(v)
        if tz is None:
            self.error(key, message)
            return default
        return tz


def _in_range(x: float, lo: float | None, hi: float | None, lo_open: bool) -> bool:
    if lo is not None and (x <= lo if lo_open else x < lo):
        return False
    return hi is None or x <= hi


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _range_text(lo: float | None, hi: float | None, lo_open: bool) -> str:
    if lo is not None and hi is not None:
        if lo_open:
            return f"must be greater than {_num(lo)} and at most {_num(hi)}"
        return f"must be between {_num(lo)} and {_num(hi)}"
    if lo is not None:
        return f"must be greater than {_num(lo)}" if lo_open else f"must be at least {_num(lo)}"
    assert hi is not None
    return f"must be at most {_num(hi)}"


_OFFSET = re.compile(r"(?:UTC|GMT)?([+-])(\d{2}):?(\d{2})")
_zones: list[str] = []


def parse_timezone(text: str) -> tuple[dt.tzinfo | None, str]:
    """A time zone from an IANA name or a fixed offset; (None, why) when invalid."""
    m = _OFFSET.fullmatch(text.strip())
    if m:
        sign, hours, minutes = m.groups()
        h, mi = int(hours), int(minutes)
        if h > 14 or mi > 59 or (h == 14 and mi):
            return None, f"'{text}' is not a valid UTC offset (-14:00 to +14:00)"
        delta = dt.timedelta(hours=h, minutes=mi)
        return dt.timezone(-delta if sign == "-" else delta), ""
    try:
        return zoneinfo.ZoneInfo(text), ""
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    if not _zones:  # read lazily: listing the zone database takes a while
        _zones.extend(sorted(zoneinfo.available_timezones()))
    hint = suggest(text, _zones) or (
        " (is the time zone database installed?)" if not _zones else ""
    )
    return None, f"unknown time zone '{text}'{hint}; use an IANA name or an offset like +08:00"


def valid_id(name: str) -> bool:
    """Whether `name` can be an id (letters, digits, '-' and '_'; used in paths and labels)."""
    return bool(_BARE_KEY.fullmatch(name))
