"""Backups 备份: create, list, restore, prune; the backup ledger 备份记录 (issue 9)."""
