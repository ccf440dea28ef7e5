"""cnxbackup: back up, verify and restore an HCL Connections deployment."""

__version__ = "0.1.0"
