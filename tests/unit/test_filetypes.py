"""Attachment checks: names that are safe to keep, and types told by content, not by name."""

from __future__ import annotations

import io
import zipfile

import pytest

from opsdesk.incidents.filetypes import DOCX, FileRefused, check_file, check_name, detect

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
TEXT = "Fehler beim Anmelden: 认证失败\r\n\tline two\n".encode()
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 128


def zip_of(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


WORD = zip_of("[Content_Types].xml", "word/document.xml", "_rels/.rels")


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("photo.jpg", JPEG, "image/jpeg"),
        ("PHOTO.JPEG", JPEG, "image/jpeg"),
        ("screen.png", PNG, "image/png"),
        ("report.pdf", PDF, "application/pdf"),
        ("notes.txt", TEXT, "text/plain"),
        ("bom.txt", b"\xef\xbb\xbfwith a byte order mark\n", "text/plain"),
        ("minutes.docx", WORD, DOCX),
        ("  spaced name.txt ", b"ok", "text/plain"),
        ("notes..v2.txt", b"dots inside a name are not a path", "text/plain"),
    ],
)
def test_allowed_files_are_recognised_by_content(name: str, data: bytes, content_type: str) -> None:
    checked = check_file(name, data)
    assert checked.content_type == content_type
    assert checked.name == name.strip()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("invoice.pdf", EXE, "content is a Windows executable"),
        ("tool.exe", EXE, "files of type .exe are not accepted"),
        ("photo.png", JPEG, "named as a PNG image but its content is a JPEG image"),
        ("report.txt", PDF, "content is a PDF document"),
        ("archive.docx", zip_of("a.txt"), "a ZIP archive that is not a Word document"),
        ("broken.docx", b"PK\x03\x04not really a zip", "ZIP archive"),
        ("binary.txt", b"abc\x00def", "unrecognised binary data"),
        ("latin1.txt", "café".encode("latin-1"), "unrecognised binary data"),
        ("script.txt.sh", b"#!/bin/sh\n", "files of type .sh"),
        ("README", b"text", "files of type (none)"),
        ("empty.txt", b"", "empty.txt is empty"),
        ("anim.png", b"GIF89a" + b"\x00" * 10, "a GIF image"),
    ],
)
def test_refused_files_say_why(name: str, data: bytes, reason: str) -> None:
    with pytest.raises(FileRefused) as refused:
        check_file(name, data)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../../etc/passwd.txt", "contains a path"),
        ("..\\..\\boot.ini.txt", "contains a path"),
        ("dir/file.txt", "contains a path"),
        ("/etc/passwd.txt", "contains a path"),
        ("C:evil.txt", "drive letter"),
        ("..", "contains a path"),
        ("...", "not a file name"),
        (". .", "not a file name"),
        ("", "no name"),
        ("   ", "no name"),
        ("bad\x00name.txt", "control characters"),
        ("line\nbreak.txt", "control characters"),
        ("CON.txt", "reserved device name"),
        ("x" * 252 + ".txt", "longer than 255"),
    ],
)
def test_unsafe_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(FileRefused) as refused:
        check_name(name)
    assert reason in str(refused.value)


def test_detect_knows_nothing_but_the_allowed_types() -> None:
    assert detect(EXE) is None
    assert detect(b"\x7fELF\x02\x01") is None
    assert detect(PNG) == "image/png"
    assert detect(WORD) == DOCX
