"""Helpers for the certificate tests: complete a course as a learner would, and read PDFs
with poppler (pdftotext, pdftoppm, pdffonts), as a person opening the file would see it."""
from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from lms.courses import services as learning
from lms.courses.queries import course_outline


def complete(dbs, person, course, at=None):
    """Finish every lesson of ``course`` as ``person``; returns the (completed) enrolment."""
    enrolment = None
    for lesson in course_outline(dbs, course, None).lessons:
        enrolment = learning.complete_lesson(dbs, person, lesson)
    assert enrolment is not None and enrolment.is_completed
    return enrolment


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: install poppler-utils (`make pdf-tools`)", pytrace=False)
    return path


def _run_on_pdf(pdf: bytes, *args: str, to_stdout: tuple[str, ...] = ("-",)) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "certificate.pdf"
        source.write_bytes(pdf)
        return subprocess.run([*args, str(source), *to_stdout], check=True,
                              capture_output=True, timeout=60).stdout


def pdf_text(pdf: bytes) -> str:
    return _run_on_pdf(pdf, _tool("pdftotext"), "-enc", "UTF-8").decode("utf-8")


def words(text: str) -> str:
    """Text with every run of whitespace (line breaks included) made one space."""
    return " ".join(text.split())


def pdf_fonts(pdf: bytes) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "certificate.pdf"
        source.write_bytes(pdf)
        out = subprocess.run([_tool("pdffonts"), str(source)], check=True, capture_output=True,
                             timeout=60).stdout.decode()
    return [line.split()[0] for line in out.splitlines()[2:] if line.strip()]


def pdf_metadata(pdf: bytes) -> str:
    """The XMP metadata (``pdfinfo -meta``)."""
    return _run_on_pdf(pdf, _tool("pdfinfo"), "-meta", to_stdout=()).decode("utf-8")


def pdf_pages(pdf: bytes) -> int:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "certificate.pdf"
        source.write_bytes(pdf)
        out = subprocess.run([_tool("pdfinfo"), str(source)], check=True, capture_output=True,
                             timeout=60).stdout.decode()
    return int(next(line.split()[1] for line in out.splitlines() if line.startswith("Pages:")))


def first_page_pixels(pdf: bytes, dpi: int = 30) -> tuple[int, int, bytes]:
    """The first page as RGB pixels (width, height, bytes), from ``pdftoppm -ppm``."""
    ppm = _run_on_pdf(pdf, _tool("pdftoppm"), "-r", str(dpi), "-f", "1", "-l", "1",
                      "-singlefile", to_stdout=())  # no file prefix: PPM on stdout
    fields: list[bytes] = []
    position = 0
    while len(fields) < 4:  # P6, width, height, maxval (comments are not written by pdftoppm)
        while ppm[position:position + 1].isspace():
            position += 1
        start = position
        while not ppm[position:position + 1].isspace():
            position += 1
        fields.append(ppm[start:position])
    assert fields[0] == b"P6" and fields[3] == b"255"
    width, height = int(fields[1]), int(fields[2])
    pixels = ppm[position + 1:]
    assert len(pixels) == width * height * 3
    return width, height, pixels


def first_page_png(pdf: bytes, dpi: int = 40) -> bytes:
    """The first page as a PNG file, from ``pdftoppm -png`` (as a person would look at it)."""
    return _run_on_pdf(pdf, _tool("pdftoppm"), "-png", "-r", str(dpi), "-f", "1", "-l", "1",
                       "-singlefile", to_stdout=())


def qr_codes(pdf: bytes, dpi: int = 100) -> list[str]:
    """The texts of the QR codes on the first page, read from its picture (zxing-cpp)."""
    import zxingcpp
    from PIL import Image

    page = Image.open(io.BytesIO(first_page_png(pdf, dpi=dpi)))
    return [code.text for code in zxingcpp.read_barcodes(page)
            if code.format == zxingcpp.BarcodeFormat.QRCode]


def changed_share(png: bytes, other: bytes, margin: float = 0.1) -> float:
    """The share of the page inside ``margin`` (the frame left out) that differs clearly
    between two renderings of the same size."""
    from PIL import Image, ImageChops

    first, second = (Image.open(io.BytesIO(data)).convert("L") for data in (png, other))
    assert first.size == second.size
    width, height = first.size
    box = (int(width * margin), int(height * margin), int(width * (1 - margin)),
           int(height * (1 - margin)))
    difference = ImageChops.difference(first.crop(box), second.crop(box))
    histogram = difference.histogram()
    return sum(histogram[61:]) / sum(histogram)
