"""m10py: a Postgres-native failure-recovery engine."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("m10py")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

from m10py.client import M10Client
from m10py.models import ClaimedWork, QueueStats

__all__ = ["ClaimedWork", "M10Client", "QueueStats", "__version__"]
