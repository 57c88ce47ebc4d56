"""Moodle GIFT import and export for question specs.

Plain functions, no database and no Flask (apart from ``flask_babel.gettext`` for the
messages a user reads).

Import decisions, where Moodle's own importer is loose or the spec cannot say it:

* Text after the closing ``}`` that is only quotes/semicolons (the ``";`` junk that
  Moodle's own fixtures carry) is ignored and reported as a problem; the question is still
  imported. Any other text after the block makes it a fill-in-the-blank: the stem keeps
  ``_____`` where the block was.
* Per-answer format markers (``=[html]...``, ``#[html]...``) are removed; the spec has no
  per-answer format, so only the stem's format is kept (``stem_format``).
* A numeric ``~#feedback`` catch-all ("any other answer") becomes a ``NumericAnswer`` with
  value 0, infinite tolerance and fraction 0, so it matches every number and comes last.
* A block is a matching question when it has no ``~`` answers and every ``=`` answer has
  ``->`` before its feedback (so feedback may contain ``->``).
* A choice block is MULTIPLE when a ``~`` answer has a non-zero ``%w%`` weight or there is
  more than one ``=`` answer; ``~%0%`` means the same as ``~`` (so a single-choice wrong
  answer whose text starts with ``%`` can be written). ``=``/``~`` without ``->`` mixed
  with ``left -> right`` entries is reported (Moodle would build a broken matching).
* Weights are read as exact decimals (``%33.333…%``), so a written fraction reads back
  as the same float.
* Ordering questions have no GIFT syntax: they are skipped on export (a comment is written).
* GIFT cannot say points, case/accent sensitivity: imports get the spec defaults.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _

from lms.quizzes.spec import Choice, MatchPair, NumericAnswer, QuestionSpec, QuestionType

__all__ = ["GiftProblem", "GiftResult", "parse_gift", "write_gift"]


@dataclass(frozen=True)
class GiftProblem:
    line: int
    message: str
    harmless: bool = False  # a warning: the question was still read


@dataclass
class GiftResult:
    questions: list[QuestionSpec] = field(default_factory=list)
    problems: list[GiftProblem] = field(default_factory=list)


class _Unsupported(Exception):
    pass


# Escaped characters are replaced by Unicode noncharacters while the structure is parsed,
# then turned back into the characters they stand for.
_ESC = {"\\": "\ufdd0", "~": "\ufdd1", "=": "\ufdd2", "#": "\ufdd3", "{": "\ufdd4",
        "}": "\ufdd5", ":": "\ufdd6", "n": "\ufdd7"}
_UNESC = {v: ("\n" if k == "n" else k) for k, v in _ESC.items()}
_ESC_RE = re.compile(r"\\([\\~=#{}:n])")
_PLACEHOLDER_RE = re.compile("[\ufdd0-\ufdd7]")
_FORMAT_RE = re.compile(r"^\[(html|moodle|plain|markdown)\]")
_JUNK_RE = re.compile(r"^[\"';\s]+$")
_FORMATS = ("html", "moodle", "plain", "markdown")


def _pre(text: str) -> str:
    return _ESC_RE.sub(lambda m: _ESC[m.group(1)], text)


def _post(text: str) -> str:
    text = _PLACEHOLDER_RE.sub(lambda m: _UNESC[m.group(0)], text.strip())
    return unicodedata.normalize("NFC", text).strip()


def _split_format(text: str) -> tuple[str, str]:
    """Remove one leading ``[format]`` marker: (format or '', rest)."""
    text = text.strip()
    m = _FORMAT_RE.match(text)
    if m:
        return m.group(1), text[m.end():]
    return "", text


def _text(raw: str) -> str:
    """An answer/feedback text: format marker dropped, escapes resolved, NFC."""
    return _post(_split_format(raw)[1])


def _category(raw: str) -> str:
    path = raw.strip()
    if path.startswith("$course$/"):
        path = path[len("$course$/"):]
    elif path == "$course$":
        path = ""
    if path == "top":
        path = ""
    elif path.startswith("top/"):
        path = path[len("top/"):]
    return unicodedata.normalize("NFC", path.strip())


def parse_gift(data: bytes | str) -> GiftResult:
    result = GiftResult()
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            result.problems.append(GiftProblem(line, _(
                "The file is not UTF-8 text (invalid byte on line %(line)d), so nothing was "
                "imported. Save it as UTF-8 and import it again.", line=line)))
            return result
    else:
        text = data[1:] if data.startswith("\ufeff") else data
    text = text.replace("\r\n", "\n").replace("\r", "\n")

    category = ""
    chunk: list[tuple[int, str]] = []

    def flush() -> None:
        nonlocal category
        lines = list(chunk)
        chunk.clear()
        while lines and lines[0][1].lstrip().startswith("$CATEGORY:"):
            category = _category(lines[0][1].lstrip()[len("$CATEGORY:"):])
            lines.pop(0)
        if not lines or all(not s.strip() for _n, s in lines):
            return
        first = lines[0][0]
        try:
            q = _parse_question("\n".join(s for _n, s in lines), category, first, result)
        except _Unsupported as exc:
            result.problems.append(GiftProblem(first, str(exc)))
            return
        result.questions.append(q)

    for number, line in enumerate(text.split("\n"), start=1):
        if line.lstrip().startswith("//"):
            continue
        if not line.strip():
            flush()
            continue
        chunk.append((number, line))
    flush()
    return result


def _parse_question(raw: str, category: str, line: int, result: GiftResult) -> QuestionSpec:
    if _PLACEHOLDER_RE.search(raw):
        raise _Unsupported(_("The question contains reserved characters (U+FDD0–U+FDD7)."))
    text = _pre(raw).strip()
    name = ""
    if text.startswith("::"):
        end = text.find("::", 2)
        if end < 0:
            raise _Unsupported(_("The question title has no closing '::'."))
        name = _post(text[2:end])
        text = text[end + 2:].strip()
    fmt, text = _split_format(text)
    fmt = fmt or "plain"

    start = text.find("{")
    if start < 0:
        if "}" in text:
            raise _Unsupported(_("The answer block has a '}' but no '{'."))
        raise _Unsupported(_("Description questions (text without an answer block) are "
                             "not supported; the question was skipped."))
    finish = text.find("}", start)
    if finish < 0:
        raise _Unsupported(_("The answer block '{' is never closed with '}'."))
    block = text[start + 1:finish]
    if "{" in block:
        raise _Unsupported(_("The answer block contains an unescaped '{'."))
    before, after = text[:start], text[finish + 1:]
    if "{" in after or "}" in after:
        raise _Unsupported(_("The question has more than one answer block."))
    if not after.strip():
        stem = _post(before)
    elif _JUNK_RE.match(after):
        stem = _post(before)
        result.problems.append(GiftProblem(line, _(
            "Ignored the text %(junk)s after the answer block of question '%(name)s'.",
            junk=after.strip(), name=name or stem[:40]), harmless=True))
    else:
        stem = _post(before + "_____" + after)

    if not block.strip():
        raise _Unsupported(_("Essay questions ('{}') are not supported; the question was "
                             "skipped."))
    general = ""
    pos = block.find("####")
    if pos >= 0:
        general = _text(block[pos + 4:])
        block = block[:pos]
    block = block.strip()
    base = dict(stem=stem, name=name, stem_format=fmt, general_feedback=general,
                category=category, extra={"line": line})

    if block.startswith("#"):
        return QuestionSpec(type=QuestionType.NUMERIC, numeric=_numeric(block[1:]), **base)

    head, _sep, rest = block.partition("#")
    if "=" not in block and "~" not in block and head.strip().upper() in (
            "T", "TRUE", "F", "FALSE"):
        correct = head.strip().upper().startswith("T")
        wrong_fb, _sep, right_fb = rest.partition("#")
        wrong_fb, right_fb = _text(wrong_fb), _text(right_fb)
        return QuestionSpec(
            type=QuestionType.TRUE_FALSE, correct=correct,
            feedback_true=right_fb if correct else wrong_fb,
            feedback_false=wrong_fb if correct else right_fb, **base)

    entries = _entries(block)
    if not entries:
        raise _Unsupported(_("The answer block could not be understood."))
    if all(m == "=" and "->" in body.partition("#")[0] for m, body in entries):
        pairs = []
        for _m, body in entries:
            if "#" in body:
                raise _Unsupported(_("Matching answers cannot have feedback."))
            left, _sep, right = body.partition("->")
            pairs.append(MatchPair(_text(left), _text(right)))
        return QuestionSpec(type=QuestionType.MATCHING, pairs=tuple(pairs), **base)

    if not any(m == "~" for m, _b in entries) and any(
            "->" in body.partition("#")[0] for _m, body in entries):
        raise _Unsupported(_("The answer block mixes matching pairs ('left -> right') with "
                             "plain answers."))
    choices = []
    weighted_wrong = False
    for marker, body in entries:
        weight, body = _weight(body)
        if weight and marker == "~":
            weighted_wrong = True
        answer, _sep, feedback = body.partition("#")
        if weight is None:
            weight = 1.0 if marker == "=" else 0.0
        choices.append(Choice(_text(answer), weight, _text(feedback)))
    if any(m == "~" for m, _b in entries):
        many = weighted_wrong or sum(m == "=" for m, _b in entries) > 1
        qtype = QuestionType.MULTIPLE if many else QuestionType.SINGLE
    else:
        qtype = QuestionType.SHORT_ANSWER
    return QuestionSpec(type=qtype, choices=tuple(choices), **base)


def _entries(block: str) -> list[tuple[str, str]]:
    parts = re.split(r"([=~])", block)
    if parts[0].strip():
        raise _Unsupported(_("Unexpected text %(text)s before the first answer; answers "
                             "start with '=' or '~'.", text=_post(parts[0])))
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]


def _weight(body: str) -> tuple[float | None, str]:
    body = body.strip()
    if not body.startswith("%"):
        return None, body
    end = body.find("%", 1)
    if end < 0:
        raise _Unsupported(_("An answer weight '%%...%%' is not closed."))
    try:
        pct = Decimal(body[1:end].strip())
        if not pct.is_finite():
            raise ValueError
    except (ArithmeticError, ValueError):
        raise _Unsupported(_("The answer weight %(w)s is not a number.",
                             w=body[: end + 1])) from None
    if not -100 <= pct <= 100:
        raise _Unsupported(_("The answer weight %(w)s is outside -100%%..100%%.",
                             w=body[: end + 1]))
    return float(pct / 100), body[end + 1:]


def _number(text: str) -> float:
    try:
        value = float(_post(text))
    except ValueError:
        raise _Unsupported(_("'%(text)s' is not a number.", text=_post(text))) from None
    if not math.isfinite(value):
        raise _Unsupported(_("'%(text)s' is not a finite number.", text=_post(text)))
    return value


def _numeric(block: str) -> tuple[NumericAnswer, ...]:
    block = block.strip()
    if block and block[0] not in "=~":
        block = "=" + block
    answers = []
    for marker, body in _entries(block):
        weight, body = _weight(body)
        value_text, _sep, feedback = body.partition("#")
        feedback = _text(feedback)
        if marker == "~":
            if value_text.strip():
                raise _Unsupported(_("A numeric '~' answer may only carry feedback."))
            answers.append(NumericAnswer(0.0, math.inf, 0.0, feedback))
            continue
        value_text = value_text.strip()
        if not value_text:
            raise _Unsupported(_("A numeric answer has no number."))
        if ":" in value_text:
            v, _sep, t = value_text.partition(":")
            value, tolerance = _number(v), abs(_number(t))
        elif ".." in value_text[1:]:
            i = value_text.index("..", 1)
            low, high = _number(value_text[:i]), _number(value_text[i + 2:])
            value = (low + high) / 2
            tolerance = abs(high - value)
        else:
            value, tolerance = _number(value_text), 0.0
        answers.append(NumericAnswer(value, tolerance, 1.0 if weight is None else weight,
                                     feedback))
    if not answers:
        raise _Unsupported(_("The numeric question has no answer."))
    return tuple(answers)


# --------------------------------------------------------------------------- writing

def _esc(text: str) -> str:
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            continue
        elif ch in "\\~=#{}:":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _answer_text(text: str) -> str:
    """Escape an answer/feedback text, protecting a leading '[format]' lookalike."""
    out = _esc(text)
    if _FORMAT_RE.match(out):
        out = "[plain]" + out
    return out


def _num(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _pct(fraction: float) -> str:
    # Exact decimal arithmetic, so that the parser's Decimal(pct) / 100 gives the same float.
    text = format(Decimal(repr(float(fraction))) * 100, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _feedback(text: str) -> str:
    return "#" + _answer_text(text) if text else ""


def write_gift(questions: list[QuestionSpec]) -> str:
    out: list[str] = []
    category: str | None = None
    for q in questions:
        if q.type == QuestionType.ORDERING:
            out.append(f"// ordering question {q.name!r} skipped: GIFT has no ordering "
                       "syntax".replace("\n", " ") + "\n")
            continue
        if q.category != category:
            path = "$course$/top" + (f"/{q.category}" if q.category else "")
            out.append(f"$CATEGORY: {path}\n")
            category = q.category
        head = f"::{_esc(q.name)}::" if q.name else ""
        stem = _esc(q.stem)
        fmt = q.stem_format if q.stem_format in _FORMATS else "plain"
        if fmt != "plain" or stem.startswith(("[", "/", "$")) or not head and (
                stem.startswith("::")):
            stem = f"[{fmt}]{stem}"
        lines = [head + stem + "{"]
        if q.type == QuestionType.TRUE_FALSE:
            right, wrong = ((q.feedback_true, q.feedback_false) if q.correct
                            else (q.feedback_false, q.feedback_true))
            tf = "TRUE" if q.correct else "FALSE"
            if right or wrong:
                tf += "#" + _answer_text(wrong) + ("#" + _answer_text(right) if right else "")
            lines.append("\t" + tf)
        elif q.type == QuestionType.NUMERIC:
            lines[0] += "#"
            for a in q.numeric:
                if math.isinf(a.tolerance) and a.fraction == 0:
                    lines.append("\t~#" + _answer_text(a.feedback))
                    continue
                weight = "" if a.fraction == 1 else f"%{_pct(a.fraction)}%"
                lines.append(f"\t={weight}{_num(a.value)}:{_num(a.tolerance)}"
                             + _feedback(a.feedback))
        elif q.type == QuestionType.MATCHING:
            for p in q.pairs:
                left = _answer_text(p.left)
                lines.append(f"\t={left + ' ' if left else ' '}-> {_answer_text(p.right)}")
        else:
            for c in q.choices:
                text = _answer_text(c.text)
                if q.type == QuestionType.SINGLE:
                    if c.fraction == 1:
                        prefix = "=%100%" if text.startswith("%") else "="
                    elif c.fraction == 0 and not text.startswith("%"):
                        prefix = "~"
                    else:
                        prefix = f"~%{_pct(c.fraction)}%"
                elif q.type == QuestionType.MULTIPLE:
                    prefix = f"~%{_pct(c.fraction)}%"
                else:
                    explicit = c.fraction != 1 or text.startswith("%")
                    prefix = f"=%{_pct(c.fraction)}%" if explicit else "="
                lines.append("\t" + prefix + text + _feedback(c.feedback))
        if q.general_feedback:
            lines.append("\t####" + _answer_text(q.general_feedback))
        lines.append("}")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)
