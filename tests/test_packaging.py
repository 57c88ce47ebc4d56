"""The package as it is installed in production: a wheel, not the source tree.

setup.cfg lists its packages by hand (``packages = find:`` with the ``package_dir``
mapping of templates/ and seeds/ would ship a wheel without templates). These tests
keep the list in step with the source tree, and build a real wheel, install it outside
the tree and serve pages from it.
"""
from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
BIN = PYTHON.parent


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg", encoding="utf-8")
    return parser


def _dangling_list(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def _dangling_map(value: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in _dangling_list(value))
    return {k.strip(): v.strip() for k, v in pairs}


def test_the_package_list_matches_the_source_tree() -> None:
    options = _setup_cfg()["options"]
    listed = set(_dangling_list(options["packages"]))
    assert options["packages"].strip() != "find:", (
        "`find:` with the package_dir mapping ships no templates: list the packages")
    mapping = _dangling_map(options.get("package_dir", ""))
    assert mapping == {"lms.templates": "templates", "lms.seeds": "seeds"}

    # Python packages: every directory under lms/ with an __init__.py ...
    expected = {"lms"} | {f"lms.{p}" for p in find_packages(str(ROOT / "lms"))}
    # ... and the mapped folders, with any package inside them.
    for package, folder in mapping.items():
        assert (ROOT / folder / "__init__.py").is_file(), f"{folder}/ must be a package"
        expected |= {package} | {f"{package}.{p}" for p in find_packages(str(ROOT / folder))}
    # Data-only folders under lms/ (no __init__.py) ship only when they are listed and have
    # package_data: the compiled catalogs live in lms/translations.
    package_data = dict(_setup_cfg()["options.package_data"])
    data_only = {p for p in package_data
                 if p.startswith("lms.") and p not in mapping
                 and (ROOT / p.replace(".", "/")).is_dir()
                 and not (ROOT / p.replace(".", "/") / "__init__.py").exists()}
    assert data_only == {"lms.translations"}, data_only
    expected |= data_only

    missing, extra = sorted(expected - listed), sorted(listed - expected)
    assert not missing and not extra, (
        f"setup.cfg [options] packages is out of step with the tree: add {missing}, "
        f"remove {extra}")
    for package in listed:
        folder = ROOT / mapping.get(package, package.replace(".", "/"))
        assert folder.is_dir(), f"{package}: {folder} does not exist"
    for package in package_data:
        assert package in listed, f"package_data for {package}, which is not a listed package"


# ---------------------------------------------------------------- the wheel

IGNORED = shutil.ignore_patterns(".git", ".venv", "node_modules", "build", "dist", "*.egg-info",
                                 "instance", "test-artifacts", "__pycache__", ".pytest_cache",
                                 ".ruff_cache", "*.pyc", "*.db", "*.mo")


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed ({result.returncode}):\n"
                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}", pytrace=False)
    return result


def _build_env(tmp: Path) -> dict[str, str]:
    """The venv builds with --no-build-isolation when it has wheel and setuptools>=68
    (pyproject's build requirements); otherwise both go to a side folder, not the venv."""
    check = subprocess.run([str(PYTHON), "-c", (
        "import setuptools, wheel; v = tuple(int(x) for x in setuptools.__version__.split('.')[:1]);"
        "raise SystemExit(0 if v >= (68,) else 1)")], capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LMS_", "PYTHON"))}
    if check.returncode != 0:
        tools = tmp / "build-tools"
        _run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
              "--no-warn-script-location", "--target", str(tools), "setuptools>=68", "wheel"])
        env["PYTHONPATH"] = str(tools)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build the wheel from a copy of the tree (the shared work tree gets no build/ or
    egg-info), with the catalogs compiled as `make translations` does, and install it
    with `pip install --target`."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    _run([str(BIN / "pybabel"), "-q", "compile", "-d", str(source / "lms" / "translations")])
    assert list((source / "lms" / "translations").glob("*/LC_MESSAGES/messages.mo"))
    dist = tmp / "dist"
    _run([str(PYTHON), "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
          "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
         env=_build_env(tmp), cwd=tmp)
    wheels = list(dist.glob("lms-*.whl"))
    assert len(wheels) == 1, wheels
    site = tmp / "site"
    _run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--no-deps", "--no-warn-script-location", "--target", str(site), str(wheels[0])])
    return {"tmp": tmp, "source": source, "wheel": wheels[0], "site": site}


def test_the_wheel_ships_every_template_asset_catalog_migration_and_seed(installed) -> None:
    source = installed["source"]
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = set(wheel.namelist())
    wanted = {f"lms/templates/{p.relative_to(source / 'templates').as_posix()}"
              for p in (source / "templates").rglob("*") if p.is_file()}
    wanted |= {f"lms/seeds/{p.relative_to(source / 'seeds').as_posix()}"
               for p in (source / "seeds").rglob("*") if p.is_file()}
    wanted |= {p.relative_to(source).as_posix() for p in (source / "lms").rglob("*")
               if p.is_file() and p.suffix != ".pot"}  # .mo compiled into the copy
    missing = sorted(wanted - names)
    assert not missing, f"the wheel lacks {missing}: check [options.package_data] in setup.cfg"
    assert "lms/translations/vi/LC_MESSAGES/messages.mo" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        assert "lms = lms.cli:main" in wheel.read(entry_points).decode()


WHEEL_CHECK = textwrap.dedent('''
    import json, sys
    from pathlib import Path

    site, work = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    import lms
    assert Path(lms.__file__).resolve().is_relative_to(site), lms.__file__

    from lms import create_app
    from lms.cli import MIGRATIONS, upgrade_database
    from lms.db import db
    from sqlalchemy import inspect

    app = create_app({
        "TESTING": True, "DATABASE_URL": f"sqlite:///{work / 'wheel.db'}",
        "INSTANCE_PATH": str(work / "instance"), "SECRET_KEY": "k" * 48,
        "LOG_LEVEL": "WARNING", "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024,
    })
    out = {"lms": lms.__file__, "template_folder": app.template_folder,
           "static_folder": app.static_folder, "migrations": str(MIGRATIONS)}
    with app.app_context():
        upgrade_database()
        out["tables"] = sorted(inspect(db.engine).get_table_names())
        db.engine.dispose()

    client = app.test_client()
    login = client.get("/login")
    out["login"] = [login.status_code, login.mimetype, login.get_data(as_text=True)]
    css = client.get("/static/app.css")
    out["css"] = [css.status_code, css.mimetype, len(css.get_data())]
    css.close()
    missing = client.get("/no/such/page")
    out["not_found"] = [missing.status_code, missing.get_data(as_text=True)]

    from flask_babel import get_translations
    with app.test_request_context("/login"):
        catalog = get_translations()
        out["catalog_files"] = [str(Path(f).resolve()) for f in getattr(catalog, "files", [])]
        out["sign_in_vi"] = catalog.gettext("Sign in")

    import lms.seeds.demo as demo
    out["seeds"] = [demo.__file__, str(demo.UNITS_FILE), demo.UNITS_FILE.is_file()]
    import yaml
    out["seed_units"] = len(str(yaml.safe_load(demo.UNITS_FILE.read_text(encoding="utf-8"))))
    print("RESULT " + json.dumps(out))
''')


def test_an_installed_wheel_serves_the_pages(installed) -> None:
    site, tmp = installed["site"], installed["tmp"]
    venv_site = sysconfig.get_paths()["purelib"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LMS_", "PYTHON"))}
    env["PYTHONPATH"] = f"{site}{os.pathsep}{venv_site}"
    work = tmp / "run"
    work.mkdir()
    # -S: no site-packages .pth files, so the editable install of the tree stays out;
    # cwd is a temporary folder: the source tree is not importable.
    result = _run([str(PYTHON), "-S", "-c", WHEEL_CHECK, str(site), str(work)],
                  cwd=work, env=env)
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    out = json.loads(line[len("RESULT "):])
    site = site.resolve()

    for key in ("lms", "template_folder", "static_folder", "migrations"):
        assert Path(out[key]).resolve().is_relative_to(site), (key, out[key])
    assert {"users", "units"} <= set(out["tables"]), out["tables"]
    assert "alembic_version" in out["tables"]

    status, mimetype, html = out["login"]
    assert (status, mimetype) == (200, "text/html")
    assert '<html lang="vi">' in html
    assert 'name="login"' in html and 'name="password"' in html and "csrf_token" in html
    assert "/static/app.css" in html

    assert out["css"][:2] == [200, "text/css"] and out["css"][2] > 1000

    status, html = out["not_found"]
    assert status == 404
    assert '<html lang="vi">' in html and "error-code" in html

    vi_catalog = site / "lms" / "translations" / "vi" / "LC_MESSAGES" / "messages.mo"
    assert vi_catalog.is_file()
    assert str(vi_catalog.resolve()) in out["catalog_files"], out["catalog_files"]
    assert out["sign_in_vi"] != "Sign in", "the Vietnamese catalog does not translate 'Sign in'"
    assert out["sign_in_vi"] in out["login"][2]

    demo_module, units_file, units_exist = out["seeds"]
    assert Path(demo_module).resolve().is_relative_to(site)
    assert Path(units_file).name == "ministry.yaml" and units_exist
    assert Path(units_file).resolve().is_relative_to(site)
    assert out["seed_units"] > 100
