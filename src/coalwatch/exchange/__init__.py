"""Exchange with the platforms regulators already run: collection files (数据采集文件) written
per mine and pushed over FTP, the same files read back from another vendor's system, and
read-only SQL views for platforms that read databases."""
