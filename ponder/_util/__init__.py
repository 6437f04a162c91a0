"""Small private helpers used across ponder: untrusted text made safe (`text`), secrets redacted
(`secrets`), JSONL read defensively (`jsonl`), terminal-width tables (`columns`)."""
