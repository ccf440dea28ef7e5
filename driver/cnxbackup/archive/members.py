"""The member gate: a tar stream parsed exactly as GNU tar reads it, passed on only once checked.

Restore puts the gate between ``zstd -dc`` and ``tar -x``: a member's header (with the pax
``x``, GNU ``L``/``K`` headers and sparse extension blocks that belong to it) is checked before
any of its bytes reach tar, and its data follows only then. ``verify --deep`` runs the same
gate with nothing behind it. Python's ``tarfile`` is not used: it stops quietly at a header it
cannot parse while GNU tar reads on, so a check built on it can be walked around.

What GNU tar does, and so what the gate follows (GNU tar 1.30-1.35, ``src/list.c``):
- a header is valid when its checksum (``chksum`` as eight spaces) matches the unsigned or the
  signed byte sum; a block that is all zero outside ``chksum`` is a zero block, and the first
  zero block ends the archive (GNU reads one more block, then stops);
- numbers are octal (leading blanks, ending in NUL or blank), or base-256 when the first byte
  is 0x80; the name is ``prefix/name`` for POSIX ustar headers, ``name`` otherwise;
- ``L``/``K`` give the next member's long name/link name, ``x`` its pax records (``path``,
  ``linkpath``, ``size`` override the header; ``GNU.sparse.name`` the name of a sparse file),
  ``g`` records apply to all that follow;
- data follows every member except a directory; old GNU sparse (``S``) headers may be followed
  by extension blocks; ``D`` (incremental dumpdir) is a directory whose data lists names, and
  a POSIX-format incremental archive gives a directory (``5``) its dumpdir in the pax record
  ``GNU.dumpdir``; both are checked alike (names, renames, what the extraction deletes).

The gate is stricter than GNU tar wherever GNU tar would do something cnxbackup never asks of
it: any header it cannot read fails the archive (GNU would skip to the next header), as do
unknown types, base-64 numbers, data on a link, FIFO or directory, a regular file named with a
trailing slash, and ``g`` records that set a path or size. Refused always: absolute names,
``..``, a member reached through a symlink member, a hardlink outside the tree or through a
symlink, a member that replaces a symlink member, a non-directory in place of the root, and
device nodes. FIFOs and setuid/setgid files pass only when ``allow_special`` (a signed set).
"""
from __future__ import annotations

import re
from typing import Callable, Dict, Iterable, Optional, Set, Union

from .common import ArchiveError, UnsafeArchiveError

BLOCK = 512
MAX_META = 1 << 20  # L, K, x, g and D data are names, not content
OUT_DIRECT = 1 << 18  # checked data this large goes to the sink as it is; smaller pieces are gathered
REGULAR = {b"0", b"\0", b"7"}
NO_DATA = {b"1", b"2", b"5", b"6"}
META = {b"L", b"K", b"x", b"g"}
KNOWN = REGULAR | NO_DATA | META | {b"3", b"4", b"S", b"D"}
USTAR = b"ustar\x0000"
GNU = b"ustar  \x00"

Sink = Callable[[memoryview], None]


class MalformedArchive(ArchiveError):
    """A header the gate (and so, possibly, GNU tar) does not read as cnxbackup wrote it."""


_BLANK = b" \t\n\v\f\r"
_OCTAL = re.compile(rb"\0?[ \t\n\v\f\r]*([0-7]*)(.*)", re.S)


def _number(field: bytes, what: str, octal_only: bool = False) -> int:
    """A numeric header field as GNU tar's ``from_header`` reads it (base-64 and negatives refused).

    Octal after an optional leading NUL and blanks, ending at a NUL or a blank; an all-NUL
    field is 0; base-256 when the first byte is 0x80.
    """
    if field[:1] == b"\x80" and not octal_only:
        return int.from_bytes(field[1:], "big")
    match = _OCTAL.match(field)
    assert match is not None  # the pattern matches any bytes
    digits, rest = match.group(1), match.group(2)
    if not digits:
        if not rest:
            raise MalformedArchive(f"blanks where the numeric {what} is expected")
        if rest[:1] != b"\0":
            raise MalformedArchive(f"{rest[:1]!r} where the numeric {what} is expected")
        return 0
    if rest and rest[:1] != b"\0" and rest[:1] not in _BLANK:
        raise MalformedArchive(f"{field!r} where the numeric {what} is expected")
    return int(digits, 8)


def _checksum_ok(block: bytes) -> bool:
    recorded = _number(block[148:156], "checksum", octal_only=True)
    unsigned = sum(block) - sum(block[148:156]) + 8 * 0x20
    if recorded == unsigned:
        return True
    outside = block[:148] + block[156:]
    signed = unsigned - 256 * (len(outside) - len(outside.translate(None, bytes(range(0x80, 0x100)))))
    return recorded == signed


def _is_zero_block(block: bytes) -> bool:
    return not any(block[:148]) and not any(block[156:])


def _cstring(field: bytes) -> bytes:
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


def _pax_records(data: bytes, what: str) -> Dict[str, bytes]:
    """``LEN KEY=VALUE\\n`` records; later records override earlier ones (as in GNU tar)."""
    records: Dict[str, bytes] = {}
    at = 0
    while at < len(data):
        if not any(data[at:]):
            break  # NUL padding at the end
        space = data.find(b" ", at)
        if space < 0 or not data[at:space].isdigit():
            raise MalformedArchive(f"malformed {what} record")
        length = int(data[at:space])
        record = data[at:at + length]
        if length <= space - at + 1 or len(record) != length or not record.endswith(b"\n") or b"=" not in record:
            raise MalformedArchive(f"malformed {what} record")
        key, value = record[space - at + 1:-1].split(b"=", 1)
        records[key.decode("utf-8", "surrogateescape")] = value
        at += length
    return records


def _padded(size: int) -> int:
    return (size + BLOCK - 1) // BLOCK * BLOCK


class MemberGate:
    """Feed it the decompressed tar stream; it passes checked bytes to ``sink`` and counts members.

    ``close()`` returns the member count (a member is one line of ``tar -tv``). Any problem
    raises before the offending member's first byte reached the sink.
    """

    def __init__(self, sink: Optional[Sink], *, allow_special: bool, label: str = "archive",
                 carried_symlinks: Iterable[str] = ()) -> None:
        self.sink = sink
        self.allow_special = allow_special
        self.label = label
        self.members = 0
        # ``carried_symlinks``: the symlinks an earlier level left in the tree this archive is
        # extracted over (a level 1 over its level 0). Nothing may go through them; GNU tar's
        # dumpdir processing deletes them (a name listed as a folder, or not listed) or renames
        # them with their folder (``R``/``T``), and the gate follows it.
        self.carried: Set[str] = set(carried_symlinks)
        self.symlinks: Set[str] = set(self.carried)
        self._dump_dir = ""
        self._buffer = bytearray()  # an incomplete header block or meta data
        self._held = bytearray()  # headers of the member being checked, not yet passed on
        self._state = "header"
        self._remaining = 0  # data bytes (padded) of the current member still to pass on
        self._collect = 0  # bytes of meta/dumpdir data still to collect
        self._collect_type = b""
        self._meta: Dict[str, object] = {}
        self._global: Dict[str, bytes] = {}
        self._header: bytes = b""
        self._after_end = BLOCK
        self._mode = 0
        self._header_size = 0
        self._out = bytearray()  # checked bytes not yet passed on (one write per chunk fed, not per member)

    # ----------------------------------------------------------------- plumbing

    def _emit(self, data: memoryview) -> None:
        if self.sink is None or not len(data):
            return
        if len(data) >= OUT_DIRECT:
            self._flush()
            self.sink(data)
        else:
            self._out += data

    def _flush(self) -> None:
        if self._out and self.sink is not None:
            self.sink(memoryview(self._out))
            self._out = bytearray()

    def _release(self) -> None:
        if self._held:
            self._emit(memoryview(self._held))
            self._held = bytearray()

    def feed(self, chunk: Union[bytes, memoryview]) -> None:
        try:
            self._feed(chunk)
        finally:
            self._flush()  # only checked bytes are ever in the buffer

    def _feed(self, chunk: Union[bytes, memoryview]) -> None:
        view = memoryview(chunk)
        at = 0
        while at < len(view):
            if self._state == "data":
                take = min(self._remaining, len(view) - at)
                self._emit(view[at:at + take])
                self._remaining -= take
                at += take
                if self._remaining == 0:
                    self._state = "header"
                continue
            if self._state == "end":
                take = min(self._after_end, len(view) - at)
                self._emit(view[at:at + take])
                self._after_end -= take
                if self._after_end == 0:
                    self._state = "done"
                at += take
                continue
            if self._state == "done":
                return  # GNU tar reads nothing after the end of the archive
            if self._state == "header" and not self._buffer and len(view) - at >= BLOCK:
                at += BLOCK  # the common case: a whole header in the chunk, no copy into the buffer
                self._on_header(bytes(view[at - BLOCK:at]))
                continue
            need = (BLOCK if self._state in ("header", "extension") else self._collect) - len(self._buffer)
            take = min(need, len(view) - at)
            self._buffer += view[at:at + take]
            at += take
            if take == need:
                data = bytes(self._buffer)
                self._buffer.clear()
                if self._state == "header":
                    self._on_header(data)
                elif self._state == "extension":
                    self._on_extension(data)
                else:
                    self._on_collected(data)

    def close(self) -> int:
        if self._state in ("header", "end", "done") and not self._buffer:
            if self._held:
                raise MalformedArchive(f"{self.label}: the archive ends inside the headers of a member")
            return self.members
        raise MalformedArchive(f"{self.label}: the archive is truncated (it ends inside a member)")

    # ----------------------------------------------------------------- headers

    def _on_header(self, block: bytes) -> None:
        if _is_zero_block(block):
            if self._held:
                raise MalformedArchive(f"{self.label}: the archive ends inside the headers of a member")
            self._emit(memoryview(block))
            self._state = "end"
            return
        try:
            if not _checksum_ok(block):
                raise MalformedArchive("header checksum does not match")
            magic = block[257:265]
            if magic not in (USTAR, GNU):
                raise MalformedArchive(f"not a GNU or POSIX tar header (magic {magic!r})")
            size = _number(block[124:136], "size")
            mode = _number(block[100:108], "mode")
            _number(block[108:116], "uid")
            _number(block[116:124], "gid")
            _number(block[136:148], "mtime")
        except MalformedArchive as error:
            raise MalformedArchive(f"{self.label}: unreadable header after member {self.members}: {error}") from None
        typeflag = block[156:157]
        if typeflag not in KNOWN:
            raise MalformedArchive(f"{self.label}: member type {typeflag!r} (after member {self.members}) is not one "
                                   "cnxbackup writes")
        self._held += block
        if typeflag in META:
            if size > MAX_META:
                raise MalformedArchive(f"{self.label}: a {typeflag.decode()} header of {size:,} bytes")
            if (typeflag in (b"L", b"K") and typeflag.decode() in self._meta) or (typeflag == b"x" and "x" in self._meta):
                raise MalformedArchive(f"{self.label}: two {typeflag.decode()} headers for one member")
            self._begin_collect(typeflag, size)
            return
        self._header = block
        self._mode = mode
        self._header_size = size
        if typeflag == b"S" and block[482]:
            self._state = "extension"
            return
        self._finish_member()

    def _on_extension(self, block: bytes) -> None:
        self._held += block
        if block[504]:
            return  # another extension block follows
        self._finish_member()

    def _begin_collect(self, typeflag: bytes, size: int) -> None:
        self._collect_type = typeflag
        self._collect = _padded(size)
        self._collect_size = size
        self._state = "collect"
        if self._collect == 0:
            self._on_collected(b"")

    def _on_collected(self, data: bytes) -> None:
        kind = self._collect_type
        content = data[:self._collect_size]
        if kind == b"D":
            self._check_dumpdir(content)
            self._held += data
            self._release()
            self._state = "header"
            return
        self._held += data
        if kind == b"L":
            self._meta["L"] = _cstring(content)
        elif kind == b"K":
            self._meta["K"] = _cstring(content)
        elif kind == b"x":
            self._meta["x"] = _pax_records(content, "pax")
        elif kind == b"g":
            records = _pax_records(content, "pax global")
            bad = sorted(k for k in records if k in ("path", "linkpath", "size") or k.startswith("GNU.sparse"))
            if bad:
                raise UnsafeArchiveError(self.label, f"a global pax header sets {', '.join(bad)}")
            self._global.update(records)
            self._release()  # a global header is not part of a member
        self._state = "header"

    # ----------------------------------------------------------------- members

    def _finish_member(self) -> None:
        block = self._header
        typeflag = block[156:157]
        pax = self._meta.get("x") or {}
        assert isinstance(pax, dict)
        if "L" in self._meta:
            raw_name = self._meta["L"]
        elif block[257:265] == USTAR and block[345]:
            raw_name = _cstring(block[345:500]) + b"/" + _cstring(block[0:100])
        else:
            raw_name = _cstring(block[0:100])
        raw_name = pax.get("path", raw_name)
        raw_name = pax.get("GNU.sparse.name", raw_name)
        raw_link = pax.get("linkpath", self._meta.get("K", _cstring(block[157:257])))
        assert isinstance(raw_name, bytes) and isinstance(raw_link, bytes)
        size = self._header_size
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise MalformedArchive(f"{self.label}: pax size {pax['size']!r} is not a number") from None
        self._meta = {}
        name = raw_name.decode("utf-8", "surrogateescape")
        link = raw_link.decode("utf-8", "surrogateescape")
        self._check_member(name, typeflag, size, link)
        if "GNU.dumpdir" in pax:  # a POSIX-format incremental archive keeps a folder's dumpdir here
            if typeflag != b"5":
                raise MalformedArchive(f"{self.label}: member {name!r} of type {typeflag.decode()} carries a dumpdir")
            self._dump_dir = self._norm(name, name, "name")
            self._check_dumpdir(pax["GNU.dumpdir"])
        self.members += 1
        self._release()
        if typeflag == b"D":
            self._begin_collect(b"D", size)
            return
        self._remaining = 0 if typeflag == b"5" else _padded(size)
        self._state = "data" if self._remaining else "header"

    def _norm(self, entry: str, path: str, what: str) -> str:
        if path.startswith("/"):
            raise UnsafeArchiveError(entry, f"{what} is an absolute path")
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if ".." in parts:
            raise UnsafeArchiveError(entry, f"{what} contains '..'")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in self.symlinks:
                raise UnsafeArchiveError(entry, f"{what} goes through symlink {prefix!r}")
        return "/".join(parts)

    def _check_member(self, name: str, typeflag: bytes, size: int, link: str) -> None:
        norm = self._norm(name, name, "name")
        if typeflag in (b"3", b"4"):
            raise UnsafeArchiveError(name, "device node")
        if typeflag == b"6" and not self.allow_special:
            raise UnsafeArchiveError(name, "FIFO (accepted only from a signed set)")
        if self._mode & 0o6000 and not self.allow_special:
            raise UnsafeArchiveError(name, f"setuid/setgid mode {self._mode:04o} (accepted only from a signed set)")
        if typeflag in NO_DATA and size:
            raise MalformedArchive(f"{self.label}: member {name!r} of type {typeflag.decode()} carries {size:,} bytes")
        if typeflag in REGULAR and name.endswith("/"):
            raise MalformedArchive(f"{self.label}: regular member {name!r} is named like a directory")
        if not norm and typeflag not in (b"5", b"D"):
            raise UnsafeArchiveError(name, "replaces the root of the tree with something that is not a folder")
        if norm in self.carried:
            if typeflag in (b"5", b"D"):
                # GNU tar keeps a symlink to a folder where a folder is extracted, and a dumpdir
                # would then be applied (files deleted) wherever it points
                raise UnsafeArchiveError(name, "a folder in place of a symlink of the earlier level")
            self.carried.discard(norm)  # a file or link replaces it (tar unlinks it first)
            self.symlinks.discard(norm)
        elif norm in self.symlinks and typeflag != b"2":
            raise UnsafeArchiveError(name, "replaces a symlink member")
        if typeflag == b"1":
            target = self._norm(name, link, "hardlink target")
            if not target:
                raise UnsafeArchiveError(name, "hardlink to the root of the tree")
            if target in self.symlinks:  # a hardlink to a symlink is a symlink too
                self.symlinks.add(norm)
        if typeflag == b"2":
            if not norm:
                raise UnsafeArchiveError(name, "symlink in place of the root of the tree")
            self.symlinks.add(norm)
        if typeflag == b"D":
            self._dump_dir = norm

    def _check_dumpdir(self, content: bytes) -> None:
        """GNU incremental directory records: ``Y``/``N``/``D`` + a plain name, ``R``/``T`` + a path.

        Extracted with ``--listed-incremental``, GNU tar first renames the folders of the ``R``/``T``
        pairs, then deletes from the folder what the records do not list, and what they list as a
        folder (``D``) that is not one (``incremen.c``, ``purge_directory``)."""
        listed: Dict[str, bytes] = {}
        renamed_from: Optional[str] = None
        for record in content.split(b"\0"):
            if not record:
                continue
            code, value = record[:1], record[1:].decode("utf-8", "surrogateescape")
            if code in (b"Y", b"N", b"D"):
                if "/" in value or value in ("", ".", ".."):
                    raise UnsafeArchiveError(self.label, f"dumpdir entry {value!r} is not a plain name")
                listed[value] = code
            elif code == b"R":
                renamed_from = self._norm(value, value, "dumpdir rename")
            elif code == b"T":
                target = self._norm(value, value, "dumpdir rename")
                if renamed_from is not None:
                    self._rename_carried(renamed_from, target)
                renamed_from = None
            elif code != b"X":
                raise MalformedArchive(f"{self.label}: dumpdir record {record[:20]!r} is not one GNU tar writes")
        for link in list(self.carried):
            parent, _, base = link.rpartition("/")
            if parent == self._dump_dir and listed.get(base, b"D") == b"D":
                self.carried.discard(link)  # deleted by tar before anything is extracted into the folder
                self.symlinks.discard(link)

    def _rename_carried(self, source: str, target: str) -> None:
        for link in list(self.carried):
            if link == source or link.startswith(source + "/"):
                moved = target + link[len(source):]
                self.carried.discard(link)
                self.symlinks.discard(link)
                self.carried.add(moved)
                self.symlinks.add(moved)
