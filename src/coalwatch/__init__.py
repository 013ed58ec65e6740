"""coalwatch: coal production monitoring (煤炭产量监控系统)."""

__version__ = "0.1.0"
