"""Recorded runs leaving ponder: as one document (`document`: JSON data or Markdown, what `ponder show`
prints) and to other tools (OpenTelemetry / OTLP: `ponder.export.otel`, the `otel` extra)."""
