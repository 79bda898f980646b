"""Which files may be attached: names that are safe to keep, types told by their content.

The extension a client sends proves nothing, so the type is read from the file's first
bytes (its "magic"), and the extension must agree with it: an executable renamed
``invoice.pdf`` is refused, and so is a real PDF named ``photo.png``.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

NAME_MAX = 255

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TYPE_BY_EXTENSION: dict[str, str] = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "pdf": "application/pdf",
    "docx": DOCX,
    "txt": "text/plain",
}
TYPE_NAMES: dict[str, str] = {
    "image/jpeg": "a JPEG image",
    "image/png": "a PNG image",
    "application/pdf": "a PDF document",
    DOCX: "a Word (DOCX) document",
    "text/plain": "a text file",
}
ALLOWED = "JPG, PNG, PDF, DOCX or TXT"

# Control characters a text file may hold: tab, line feed, form feed, carriage return.
_TEXT_CONTROLS = frozenset("\t\n\x0c\r")
_WINDOWS_RESERVED = frozenset(
    {
        "con",
        "prn",
        "aux",
        "nul",
        *(f"com{i}" for i in range(1, 10)),
        *(f"lpt{i}" for i in range(1, 10)),
    }
)


class FileRefused(ValueError):
    """A file that may not be attached; the message says why, naming the file."""


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str


def check_name(name: str) -> str:
    """The name to keep, or ``FileRefused``: no paths, no control characters, an extension."""
    shown = repr(name[:80])
    if not name or not name.strip():
        raise FileRefused("the file has no name")
    if len(name) > NAME_MAX:
        raise FileRefused(f"the file name {shown}… is longer than {NAME_MAX} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise FileRefused(f"the file name {shown} contains control characters")
    # With both separators refused the name is a single component, so ".." can only
    # climb out as the whole name; "notes..v2.txt" is harmless and kept.
    if "/" in name or "\\" in name or name.strip() == "..":
        raise FileRefused(
            f"the file name {shown} contains a path ('/', '\\' or '..'); send the bare file name"
        )
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        raise FileRefused(f"the file name {shown} starts with a drive letter")
    if name.strip(". ") == "":
        raise FileRefused(f"the file name {shown} is not a file name")
    stem = name.split(".", 1)[0].strip().lower()
    if stem in _WINDOWS_RESERVED:
        raise FileRefused(f"the file name {shown} is a reserved device name")
    return name.strip()


def detect(data: bytes) -> str | None:
    """The content type the bytes themselves show, among the allowed ones, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"PK\x03\x04"):
        return DOCX if _is_docx(data) else None
    if _is_text(data):
        return "text/plain"
    return None


def describe(data: bytes) -> str:
    """What a refused file looks like, for the error message."""
    if data.startswith(b"MZ"):
        return "a Windows executable"
    if data.startswith(b"\x7fELF"):
        return "an ELF executable"
    if data.startswith(b"#!"):
        return "a script"
    if data.startswith(b"PK\x03\x04"):
        return "a ZIP archive that is not a Word document"
    if data.startswith(b"GIF8"):
        return "a GIF image"
    kind = detect(data)
    return TYPE_NAMES[kind] if kind is not None else "unrecognised binary data"


def check_file(name: str, data: bytes) -> CheckedFile:
    """The safe name and the content type, or ``FileRefused`` naming the file and the reason."""
    kept = check_name(name)
    if not data:
        raise FileRefused(f"{kept} is empty")
    extension = kept.rsplit(".", 1)[-1].lower() if "." in kept else ""
    expected = TYPE_BY_EXTENSION.get(extension)
    if expected is None:
        raise FileRefused(
            f"{kept}: files of type {'.' + extension if extension else '(none)'} are not "
            f"accepted; attach {ALLOWED}"
        )
    found = detect(data)
    if found != expected:
        raise FileRefused(
            f"{kept} is named as {TYPE_NAMES[expected]} but its content is {describe(data)}"
        )
    return CheckedFile(name=kept, content_type=expected)


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "[Content_Types].xml" in names and "word/document.xml" in names


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return not any((ord(ch) < 32 and ch not in _TEXT_CONTROLS) or ord(ch) == 127 for ch in text)
