"""Exports of recorded runs to other tools (OpenTelemetry / OTLP: `ponder.export.otel`, the `otel` extra)."""
