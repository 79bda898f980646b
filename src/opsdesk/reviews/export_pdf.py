"""The PDF of a review (fpdf2, the ``pdf`` extra): a report to hand to a director.

A title block (incident, level, dates, status, approvals), the sections as headings, the
time summary and the action items as tables, the timeline last. A TrueType font (DejaVu
Sans by default, ``OPSDESK_PIR_PDF_FONT``) carries any language; without one the PDF falls
back to Helvetica and Latin-1 (other characters become ``?``).
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from opsdesk.reviews.export import Report

INK = (27, 31, 36)
MUTED = (87, 96, 106)
RULE = (208, 215, 222)
HEAD_FILL = (238, 241, 244)
ACCENT = (31, 79, 140)


class _Pdf(FPDF):
    def __init__(self, report: Report, font: str) -> None:
        super().__init__(format="A4")
        self.report = report
        self.family = "Helvetica"
        self.unicode = False
        path = Path(font) if font else None
        if path is not None and path.is_file():
            bold = path.with_name(path.stem + "-Bold" + path.suffix)
            self.add_font("Body", "", str(path))
            self.add_font("Body", "B", str(bold if bold.is_file() else path))
            self.family, self.unicode = "Body", True
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(f"{report.heading}: {report.title}")
        self.set_author("opsdesk")

    def text_of(self, value: str) -> str:
        if self.unicode:
            return value
        return value.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.set_text_color(*MUTED)
        self.cell(
            0,
            5,
            self.text_of(
                f"{self.report.facts[0][1]} · post-incident review #{self.report.review_id}"
                f" · page {self.page_no()}"
            ),
            align="C",
        )


def _heading(pdf: _Pdf, text: str) -> None:
    pdf.ln(3)
    pdf.set_font(pdf.family, "B", 12.5)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 7, pdf.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(*RULE)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(1.5)
    pdf.set_text_color(*INK)


def _paragraph(pdf: _Pdf, text: str) -> None:
    pdf.set_font(pdf.family, "", 10)
    pdf.multi_cell(
        0, 5, pdf.text_of(text.strip() or "—"), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )


def _table(
    pdf: _Pdf, head: tuple[str, ...], rows: list[tuple[str, ...]], widths: tuple[int, ...]
) -> None:
    pdf.set_font(pdf.family, "", 8.5)
    pdf.set_draw_color(*RULE)
    with pdf.table(
        col_widths=widths,
        line_height=4.6,
        headings_style=_heading_style(pdf),
        text_align="LEFT",
        padding=1.2,
    ) as table:
        row = table.row()
        for text in head:
            row.cell(pdf.text_of(text))
        for values in rows:
            row = table.row()
            for text in values:
                row.cell(pdf.text_of(text))


def _heading_style(pdf: _Pdf) -> FontFace:
    return FontFace(emphasis="BOLD", fill_color=HEAD_FILL, color=INK)


def to_pdf(report: Report, *, headings: dict[str, str], font: str = "") -> bytes:
    pdf = _Pdf(report, font)
    pdf.add_page()
    pdf.set_font(pdf.family, "B", 9)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 5, pdf.text_of("OFFICIAL INCIDENT REPORT"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.family, "B", 17)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 8, pdf.text_of(report.heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.family, "B", 13)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(0, 7, pdf.text_of(report.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_text_color(*INK)
    _table(pdf, ("Fact", "Value"), [*report.facts, *report.approvals], (55, 119))

    _heading(pdf, headings["description"])
    _paragraph(pdf, report.sections["description"])

    _heading(pdf, headings["time_summary"])
    _table(
        pdf,
        ("Action", "Time", "Date", "Source", "Note"),
        [(t.label, t.time, t.date, t.source, t.note) for t in report.times],
        (46, 22, 22, 44, 40),
    )

    _heading(pdf, headings["client_impact"])
    pdf.set_font(pdf.family, "B", 10)
    pdf.multi_cell(
        0,
        5,
        pdf.text_of(f"Duration (failure occurred to services restored): {report.impact}"),
        align="L",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    if report.sections["client_impact"].strip():
        _paragraph(pdf, report.sections["client_impact"])

    for key in ("resolution", "worked_well", "did_not_work", "recommendations"):
        _heading(pdf, headings[key])
        _paragraph(pdf, report.sections[key])

    _heading(pdf, headings["action_items"])
    _table(
        pdf,
        ("#", "Action Item", "Responsibility", "Priority", "Due", "Task"),
        [
            (str(i.number), i.action, i.responsibility, i.priority, i.due, i.task)
            for i in report.items
        ]
        or [("—", "No action items yet", "", "", "", "")],
        (8, 60, 38, 18, 22, 28),
    )

    _heading(pdf, headings["timeline"])
    _table(
        pdf,
        ("When", "What", "Who", "Comment"),
        [(row.at, row.what, row.who, row.comment) for row in report.timeline],
        (34, 34, 30, 76),
    )
    pdf.ln(3)
    pdf.set_font(pdf.family, "", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 5, pdf.text_of(f"Generated by opsdesk on {report.generated}."))
    return bytes(pdf.output())
