"""Paper and project tooling behind the odyssey command: validation, benchmark comparison, self-test."""
