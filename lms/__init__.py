"""lms: the learning platform of the "Bình dân học vụ số" digital-literacy movement."""
from lms.app import create_app

__all__ = ["create_app"]
