"""Course packages: a course as a folder, or a .zip, of course.yaml, lessons/*.md, media/*
and an optional quizzes.yaml (the question bank and quizzes: lms.quizzes.packaging).

``read_package`` reads and checks a whole package and writes nothing; ``import_package``
creates the course, or updates the course with the same slug in place, all or nothing;
``export_package`` / ``write_package`` / ``export_to_folder`` write one. The format is
docs/course-package.md, plus an optional top-level ``status: draft | published`` that a
newly created course takes (an existing course keeps its status).
"""

from lms.courses.packages.content import (
                                          PackageContent,
                                          PackageError,
                                          PackageLesson,
                                          PackageMedia,
                                          PackageModule,
)
from lms.courses.packages.exporting import export_package, export_to_folder, write_package
from lms.courses.packages.importing import ImportResult, import_package
from lms.courses.packages.reading import read_package

__all__ = ["ImportResult", "PackageContent", "PackageError", "PackageLesson", "PackageMedia",
           "PackageModule", "export_package", "export_to_folder", "import_package",
           "read_package", "write_package"]
