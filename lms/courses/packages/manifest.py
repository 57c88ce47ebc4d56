"""course.yaml (and quizzes.yaml): parsed strictly (no duplicate fields, no unknown ones),
and written as readable YAML."""

import posixpath
from typing import Any

import yaml
from flask_babel import gettext as _

from lms.courses.packages.constants import MANIFEST, MAX_MANIFEST_BYTES
from lms.courses.packages.content import PackageError
from lms.courses.packages.sources import FolderSource, ZipSource, scan, unsafe_name

# ---------------------------------------------------------------- course.yaml

class StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a field given twice (YAML would silently keep the last)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        seen = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the field {key} is given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def show_value(value: Any) -> str:
    if isinstance(value, dict):
        return _("a set of fields")
    if isinstance(value, list):
        return _("a list")
    text = f'"{value}"' if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


class Fields:
    """Typed reads from one mapping of course.yaml; every error says where the field is."""

    def __init__(self, raw: Any, where: str, known: tuple[str, ...]) -> None:
        self.where = where
        if not isinstance(raw, dict):
            raise PackageError(_("%(where)s must be a set of fields (name: value), not %(value)s.",
                                 where=where, value=show_value(raw)))
        unknown = sorted(str(name) for name in raw if name not in known)
        if unknown:
            raise PackageError(_("%(where)s: unknown field %(field)s.", where=where, field=unknown[0]))
        self.raw = raw

    def _wrong(self, name: str, expected: str) -> PackageError:
        return PackageError(_("%(where)s: %(field)s must be %(expected)s, not %(value)s.",
                              where=self.where, field=name, expected=expected,
                              value=show_value(self.raw[name])))

    def _get(self, name: str, required: bool) -> Any:
        value = self.raw.get(name)
        if value is None and required:
            raise PackageError(_("%(where)s: the field %(field)s is missing.", where=self.where,
                                 field=name))
        return value

    def text(self, name: str, *, required: bool = True, max_length: int = 255) -> str:
        value = self._get(name, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self._wrong(name, _("text (put it in quotes)"))
        if required and not value.strip():
            raise PackageError(_("%(where)s: %(field)s is empty.", where=self.where, field=name))
        if len(value) > max_length:
            raise PackageError(_("%(where)s: %(field)s is longer than %(limit)d characters.",
                                 where=self.where, field=name, limit=max_length))
        return value

    def whole(self, name: str, low: int, high: int, *, required: bool = True) -> int | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(name, _("a whole number"))
        if not low <= value <= high:
            raise PackageError(_("%(where)s: %(field)s must be between %(low)d and %(high)d, "
                                 "not %(value)d.", where=self.where, field=name, low=low,
                                 high=high, value=value))
        return value

    def flag(self, name: str, *, required: bool = False, default: bool = True) -> bool:
        value = self._get(name, required)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._wrong(name, _("true or false"))
        return value

    def choice(self, name: str, choices: tuple[str, ...], *, required: bool = True,
               default: str = "") -> str:
        value = self._get(name, required)
        if value is None:
            return default
        if not isinstance(value, str) or value not in choices:
            raise PackageError(_("%(where)s: %(field)s must be one of %(choices)s, not %(value)s.",
                                 where=self.where, field=name, choices=", ".join(choices),
                                 value=show_value(value)))
        return value

    def items(self, name: str, *, required: bool = True) -> list:
        value = self._get(name, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(name, _("a list"))
        return value

    def path(self, name: str) -> str | None:
        value = self.text(name, required=False, max_length=255)
        if not value:
            return None
        if "\\" in value or unsafe_name(value):
            raise PackageError(_("%(where)s: %(field)s %(value)s points outside the package; "
                                 "write a path inside it with /, such as lessons/01-intro.md.",
                                 where=self.where, field=name, value=show_value(value)))
        normal = posixpath.normpath(value)
        if normal in (".", ""):
            raise self._wrong(name, _("a file in the package"))
        return normal


def load_manifest(source: FolderSource | ZipSource) -> dict:
    if source.size(MANIFEST) is None:
        raise PackageError(_("The package has no course.yaml at its top level."))
    raw, _size, _sha, _head = scan(source, MANIFEST, MAX_MANIFEST_BYTES, keep=True)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackageError(_("course.yaml is not UTF-8 text (line %(line)d); save it as UTF-8.",
                             line=raw[:exc.start].count(b"\n") + 1)) from exc
    try:
        data = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise PackageError(_("course.yaml is not valid YAML (line %(line)s: %(problem)s).",
                             line=mark.line + 1 if mark else "?", problem=problem)) from exc
    if not isinstance(data, dict):
        raise PackageError(_("course.yaml must be a set of fields (format, slug, title, …)."))
    return data


def load_yaml(source: FolderSource | ZipSource, path: str, limit: int) -> Any:
    """Another YAML file of the package (such as quizzes.yaml), read as strictly as
    course.yaml; ``None`` when the package does not hold it."""
    if source.size(path) is None:
        return None
    raw, _size, _sha, _head = scan(source, path, limit, keep=True)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackageError(_("%(path)s is not UTF-8 text (line %(line)d); save it as UTF-8.",
                             path=path, line=raw[:exc.start].count(b"\n") + 1)) from exc
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise PackageError(_("%(path)s is not valid YAML (line %(line)s: %(problem)s).",
                             path=path, line=mark.line + 1 if mark else "?",
                             problem=problem)) from exc


# ---------------------------------------------------------------- writing YAML

class FlowMap(dict):
    """A mapping written on one line, ``{category: Mật khẩu, draw: 3}``."""


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their field, and several-line text as ``|`` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> Any:
        return super().increase_indent(flow, False)


def _represent_text(dumper: yaml.SafeDumper, value: str) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


def _represent_flow(dumper: yaml.SafeDumper, value: FlowMap) -> Any:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(value), flow_style=True)


_Dumper.add_representer(str, _represent_text)
_Dumper.add_representer(FlowMap, _represent_flow)


def dump_yaml(data: Any, header: str) -> str:
    """``data`` as UTF-8-ready YAML text under a ``# header`` comment line, fields in the
    order given."""
    return f"# {header}\n" + yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                                       default_flow_style=False, width=100)
